"""``LocalNetwork``: a whole offchain Livepeer network on loopback, inside the kernel.

One worker (your processor), one orchestrator (with its trickle server under
``/ai/trickle/``) and one gateway, each on an ephemeral 127.0.0.1 port, all on
byoc_lab's background event loop. The worker registers with the orchestrator the way
a real worker does (``POST /capability/register`` with the orchestrator's secret),
and ``net.client`` is a :class:`~byoc_lab.GatewayClient` pointed at the gateway::

    with byoc_lab.LocalNetwork(GreenTint(), capability="green-tint-cpu") as net:
        out = net.client.send_frame(frame)
        for line in net.routing_log():
            print(line)
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from byoc_lab.errors import RequestError, RuntimeStateError
from byoc_lab.network.gateway import GatewayConfig, GatewayServer
from byoc_lab.network.orchestrator import OrchestratorConfig, OrchestratorServer
from byoc_lab.runtime import get_loop
from byoc_lab.worker.core import WorkerConfig
from byoc_lab.worker.registration import Registration, register, validate_capability_name
from byoc_lab.worker.server import WorkerServer

if TYPE_CHECKING:
    from byoc_lab.client import GatewayClient

__all__ = ["LocalNetwork"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_TIMEOUT = 60.0


class LocalNetwork:
    """Worker, orchestrator and gateway for ``processor`` on 127.0.0.1.

    Args:
        processor: an instance, a class or a spec such as ``"file.py:Class"``.
        capability: the capability name the worker registers.
        capacity: live streams/jobs the worker takes at once.
        frame_size: ``(width, height)`` of raw batch frames.

    Use it as a context manager (``with`` or ``async with``), or call
    :meth:`start`/:meth:`stop`. Everything it started stops in reverse order.
    """

    def __init__(
        self,
        processor: Any,
        *,
        capability: str = "byoc_lab",
        capacity: int = 1,
        frame_size: tuple[int, int] = (640, 480),
    ) -> None:
        self.capability = validate_capability_name(capability)
        self._worker = WorkerServer(
            processor,
            WorkerConfig(capability=capability, capacity=capacity, frame_size=frame_size),
        )
        self._capacity = capacity
        self._orchestrator = OrchestratorServer(OrchestratorConfig())
        self._gateway: GatewayServer | None = None
        self._client: GatewayClient | None = None
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        if self._running:
            raise RuntimeStateError("this LocalNetwork is already running")
        try:
            worker_url = await self._worker.start(port=0)
            orch_url = await self._orchestrator.start(port=0)
            async with aiohttp.ClientSession() as http:
                await register(
                    http,
                    Registration(
                        orch_url=orch_url,
                        secret=self._orchestrator.orchestrator.secret,
                        name=self.capability,
                        url=worker_url,
                        capacity=self._capacity,
                        description="registered by byoc_lab.LocalNetwork",
                    ),
                )
            self._gateway = GatewayServer(GatewayConfig(orchestrators=(orch_url,)))
            await self._gateway.start(port=0)
            await self._worker.core.wait_initialized()
        except BaseException:
            await self._stop()
            raise
        self._running = True
        logger.info(
            "local network up: gateway %s → orchestrator %s → worker %s (%r)",
            self.gateway_url,
            orch_url,
            worker_url,
            self.capability,
        )

    async def _stop(self) -> None:
        self._running = False
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        if self._gateway is not None:
            await self._gateway.stop()
        if self._orchestrator.running:
            await self._orchestrator.stop()
        await self._worker.stop()

    def start(self) -> LocalNetwork:
        """Start all three services (blocking, with a timeout) and return ``self``."""
        self._run(self._start())
        return self

    def stop(self) -> None:
        """Stop gateway, orchestrator and worker (idempotent)."""
        self._run(self._stop())

    async def astart(self) -> LocalNetwork:
        """Async twin of :meth:`start`."""
        await get_loop().run_async(self._start())
        return self

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        await get_loop().run_async(self._stop())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return get_loop().run(coro, _TIMEOUT)

    # -- what it exposes -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between start and stop."""
        return self._running

    @property
    def gateway_url(self) -> str:
        """Where clients send jobs (``POST /process/request/…``, ``/process/stream/…``)."""
        if self._gateway is None:
            raise RuntimeStateError("the local network is not running", fix="call start()")
        return self._gateway.url

    @property
    def orchestrator_url(self) -> str:
        """The orchestrator (registration, ``/process/token``, ``/ai/stream/*``)."""
        return self._orchestrator.url

    @property
    def trickle_url(self) -> str:
        """Base URL of the orchestrator's trickle channels."""
        return self._orchestrator.url + "/ai/trickle"

    @property
    def worker_url(self) -> str:
        """The worker itself (what the orchestrator calls)."""
        return self._worker.url

    @property
    def orchestrator_secret(self) -> str:
        """The orchestrator's generated secret (to register more workers)."""
        return self._orchestrator.orchestrator.secret

    @property
    def client(self) -> GatewayClient:
        """A :class:`~byoc_lab.GatewayClient` for the gateway, defaulting to this capability."""
        if self._client is None:
            from byoc_lab.client import GatewayClient

            self._client = GatewayClient(self.gateway_url, capability=self.capability)
        return self._client

    def routing_log(self) -> list[str]:
        """What the gateway and orchestrator did, oldest first, with timestamps."""
        entries = list(self._orchestrator.orchestrator.routing.entries())
        if self._gateway is not None:
            entries += self._gateway.gateway.routing.entries()
        return [str(entry) for entry in sorted(entries, key=lambda e: e.time)]

    def swap(self, processor: Any) -> dict[str, Any]:
        """Hot-swap the worker's processor (live streams keep going)."""
        return self._run(self._worker.core.swap(processor))

    def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Apply processor parameters to the worker's live streams, as ``POST /stream/params``.

        Each live stream gets them through the worker core's ``update_stream`` (the
        path of ``/stream/params``: validated, applied between two frames, a
        ``params_updated`` event on the stream's events channel). With no live stream
        they go straight to the worker's processor. Returns the values that changed.

        Raises:
            ParamError: a value is unknown, mistyped or out of bounds (nothing applied).
            RuntimeStateError: the network is not running.
        """
        return self._run(self._update_params(dict(params)))

    async def aupdate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Async twin of :meth:`update_params`."""
        return await get_loop().run_async(self._update_params(dict(params)))

    async def _update_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self._running:
            raise RuntimeStateError(
                "cannot update parameters: the local network is not running", fix="call start()"
            )
        core = self._worker.core
        changed: dict[str, Any] = {}
        updated = False
        for stream_id in core.status()["streams"]:
            try:
                changed.update(await core.update_stream(params, stream_id))
            except (RequestError, RuntimeStateError):  # it ended meanwhile: nothing to update
                continue
            updated = True
        if not updated:
            changed = await core.runner.update_params(params)
        return changed

    @property
    def processor(self) -> Any:
        """The worker's processor in use now."""
        return self._worker.core.runner.processor

    def status(self) -> dict[str, Any]:
        """The worker's status payload."""
        return self._run(self._status())

    async def _status(self) -> dict[str, Any]:
        return self._worker.core.status()

    def __enter__(self) -> LocalNetwork:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalNetwork:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def __repr__(self) -> str:
        state = f"gateway {self.gateway_url}" if self._running else "stopped"
        return f"<LocalNetwork {self.capability!r} {state}>"
