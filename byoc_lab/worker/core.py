"""The worker's core: one processor, its health, its live streams and batch jobs.

HTTP handlers (``app.py``), the notebook handle and the CLI all drive a
:class:`WorkerCore`; it knows nothing about routes. Health follows pytrickle's states:

    LOADING ──initialize() ok──▶ IDLE ◀──last stream ends──▶ OK (≥1 live stream)
       └──initialize() raised──▶ ERROR      a failed stream also sets ERROR, with its
                                            reason, until the next start succeeds

Parameters belong to the processor, so every stream on a worker shares them; a
worker with capacity > 1 runs its streams through the same processor instance, one
frame at a time (see :class:`~byoc_lab.runner.ProcessorRunner`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import aiohttp

from byoc_lab.errors import ByocLabError, RequestError
from byoc_lab.loader import as_processor
from byoc_lab.params import carry_params, current_params
from byoc_lab.runner import ProcessorRunner
from byoc_lab.worker.api import StartBody
from byoc_lab.worker.batch import BatchResult, run_batch
from byoc_lab.worker.request import SessionConfig, StreamRequest

if TYPE_CHECKING:
    from byoc_lab.worker.session import StreamSession

__all__ = ["Health", "WorkerConfig", "WorkerCore"]

logger = logging.getLogger(__name__)


class Health(Enum):
    """What ``GET /health`` reports (pytrickle's four states)."""

    LOADING = "LOADING"
    IDLE = "IDLE"
    OK = "OK"
    ERROR = "ERROR"


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker runs.

    Attributes:
        capability: the capability name it serves (``/version``'s ``model_id``).
        capacity: live streams it accepts at once; more get 503.
        frame_size: ``(width, height)`` of raw ``application/octet-stream`` batch bodies.
        token: when set, requests must carry ``Authorization: Bearer <token>``.
        max_body_bytes: largest request body accepted (413 beyond).
        trickle_verify_tls: verify TLS certificates of trickle URLs. go-livepeer
            orchestrators serve trickle over HTTPS with self-signed certificates, so a
            worker behind one needs this off.
        start_wait: seconds a ``/stream/start`` waits for ``initialize()`` to finish.
        session: timings and limits of live streams (None: go-livepeer-friendly defaults).
    """

    capability: str = "byoc_lab"
    capacity: int = 1
    frame_size: tuple[int, int] = (640, 480)
    token: str | None = field(default=None, repr=False)
    max_body_bytes: int = 64 * 1024 * 1024
    trickle_verify_tls: bool = True
    start_wait: float = 30.0
    session: SessionConfig | None = None

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ByocLabError("worker capacity must be at least 1", got=str(self.capacity))
        width, height = self.frame_size
        if width < 1 or height < 1:
            raise ByocLabError("frame size must be positive", got=f"{width}x{height}")


class WorkerCore:
    """Hosts one processor for live streams and batch jobs.

    Call :meth:`open` on the loop that will serve it and :meth:`close` when done; the
    core owns its HTTP client session, the ``initialize()`` task and every stream.
    """

    def __init__(self, processor: Any, config: WorkerConfig | None = None) -> None:
        self.config = config if config is not None else WorkerConfig()
        self._runner = ProcessorRunner(as_processor(processor))
        self._sessions: dict[str, StreamSession] = {}
        self._init_task: asyncio.Task[None] | None = None
        self._init_error: str | None = None
        self._stream_error: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self._started_at = time.time()
        self.counters = {"streams_started": 0, "streams_failed": 0, "batch_jobs": 0}

    # -- lifecycle -------------------------------------------------------------------

    @property
    def runner(self) -> ProcessorRunner:
        """The processor in use now (replaced by :meth:`swap`)."""
        return self._runner

    async def open(self) -> None:
        """Start ``initialize()`` in the background; health is LOADING until it ends."""
        if self._init_task is None:
            self._init_task = asyncio.create_task(self._initialize(), name="byoc_lab-initialize")

    async def wait_initialized(self) -> None:
        """Return once ``initialize()`` has finished (successfully or not)."""
        if self._init_task is not None:
            await asyncio.shield(self._init_task)

    async def _initialize(self) -> None:
        try:
            await self._runner.initialize()
        except Exception as exc:  # noqa: BLE001 - task top: user code; reported as ERROR health
            self._init_error = (
                f"{self._runner.name}.initialize() raised {type(exc).__name__}: {exc}"
            )
            logger.error("processor failed to start: %s", self._init_error)
        else:
            logger.info("processor %s is ready", self._runner.describe())

    async def close(self) -> None:
        """Stop every stream, then shut the processor down and release the HTTP session."""
        for session in list(self._sessions.values()):
            await session.stop("worker shutting down")
        self._sessions.clear()
        if self._init_task is not None:
            if not self._init_task.done():
                self._init_task.cancel()
            await asyncio.gather(self._init_task, return_exceptions=True)
            if self._init_error is None and not self._init_task.cancelled():
                await self._shutdown_quietly(self._runner)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def swap(self, processor: Any) -> dict[str, Any]:
        """Replace the processor without dropping live streams.

        The new processor is initialized first; declared parameters it shares with the
        old one keep their current values; streams pick it up at their next frame; the
        old one is shut down after its frame in flight. Returns the carried parameters.

        Raises:
            ContractError: the new processor breaks the contract (the old one stays).
            Exception: whatever the new ``initialize()`` raised (the old one stays).
        """
        new = ProcessorRunner(as_processor(processor))
        await new.initialize()
        carried = carry_params(self._runner.processor, new.processor)
        old, self._runner = self._runner, new
        self._init_error = None
        async with old.lock:
            pass
        await self._shutdown_quietly(old)
        logger.info("swapped in %s", new.describe())
        return carried

    @staticmethod
    async def _shutdown_quietly(runner: ProcessorRunner) -> None:
        try:
            await runner.shutdown()
        except Exception as exc:  # noqa: BLE001 - user code at shutdown: report, carry on
            logger.warning("%s.shutdown() raised %s: %s", runner.name, type(exc).__name__, exc)

    # -- health and status -------------------------------------------------------------

    @property
    def health(self) -> Health:
        """The current health state."""
        if self._init_error is not None or self._stream_error is not None:
            return Health.ERROR
        if self._init_task is None or not self._init_task.done():
            return Health.LOADING
        return Health.OK if self._sessions else Health.IDLE

    @property
    def error(self) -> str | None:
        """Why health is ERROR (None otherwise)."""
        return self._init_error or self._stream_error

    def status(self) -> dict[str, Any]:
        """The ``/stream/status`` payload: pytrickle 0.1.6's keys, plus byoc_lab's own."""
        health = self.health
        ready = self._init_task is not None and self._init_task.done() and not self._init_error
        out: dict[str, Any] = {
            "status": health.value,
            "state": health.value,
            "error_message": self.error,
            "pipeline_ready": ready,
            "active_streams": len(self._sessions),
            "startup_complete": self._init_task is not None and self._init_task.done(),
            "pipeline_state": health.name,
            "additional_info": {"capability": self.config.capability},
            "client_active": bool(self._sessions),
            "processor": self._runner.describe(),
            "params": current_params(self._runner.processor),
            "capacity": self.config.capacity,
            "counters": dict(self.counters),
            "streams": {sid: s.stats() for sid, s in self._sessions.items()},
        }
        if self._sessions:
            first = next(iter(self._sessions.values()))
            out["client_running"] = True
            out["fps"] = first.stats().get("fps")
            out["current_params"] = {
                "subscribe_url": first.request.subscribe_url,
                "publish_url": first.request.publish_url,
                "gateway_request_id": first.request.request_id,
            }
        return out

    # -- streams -----------------------------------------------------------------------

    async def start_stream(self, body: StartBody) -> StreamSession:
        """Start a live stream; a second start of the same id replaces the first.

        Raises:
            RequestError: 503 while the processor is loading or failed to load, or when
                the worker is at capacity ("in use").
        """
        await self._wait_ready()
        existing = self._sessions.get(body.gateway_request_id)
        if existing is not None:
            await existing.stop("replaced by a new start for the same stream id")
        if len(self._sessions) >= self.config.capacity:
            raise RequestError(
                f"worker is in use: {len(self._sessions)} of {self.config.capacity} streams "
                "running",
                status=503,
                fix="stop a stream first, or start the worker with a larger capacity",
            )
        from byoc_lab.worker.session import StreamSession

        request = StreamRequest(
            request_id=body.gateway_request_id,
            subscribe_url=body.subscribe_url,
            publish_url=body.publish_url,
            control_url=body.control_url,
            events_url=body.events_url,
            data_url=body.data_url,
            params=body.params,
        )
        session = StreamSession(
            request,
            runner=lambda: self._runner,
            http=self._client(),
            config=self.config.session,
            on_end=self._on_end,
        )
        self._sessions[request.request_id] = session
        self._stream_error = None
        self.counters["streams_started"] += 1
        try:
            await session.start()
        except BaseException:
            self._sessions.pop(request.request_id, None)
            raise
        logger.info("stream %s started", request.request_id)
        return session

    async def update_stream(
        self, params: Mapping[str, Any], stream_id: str | None = None
    ) -> dict[str, Any]:
        """Apply parameters to a live stream (the only one, or ``stream_id``)."""
        session = self._pick(stream_id, "update")
        result: dict[str, Any] = await session.update_params(params)
        return result

    async def stop_stream(self, stream_id: str | None = None) -> None:
        """Stop a live stream (the only one, or ``stream_id``)."""
        session = self._pick(stream_id, "stop")
        await session.stop("stopped by request")

    def _pick(self, stream_id: str | None, verb: str) -> StreamSession:
        if stream_id:
            session = self._sessions.get(stream_id)
            if session is None:
                raise RequestError(
                    f"No active stream to {verb}: no stream {stream_id!r}",
                    expected=f"one of {', '.join(self._sessions) or '(none running)'}",
                )
            return session
        if not self._sessions:
            raise RequestError(f"No active stream to {verb}")
        if len(self._sessions) > 1:
            raise RequestError(
                f"{len(self._sessions)} streams are running: say which one to {verb}",
                field="X-Stream-Id",
                expected="an X-Stream-Id header",
            )
        return next(iter(self._sessions.values()))

    def _on_end(self, session: StreamSession) -> None:
        if self._sessions.get(session.request.request_id) is session:
            del self._sessions[session.request.request_id]
        if session.error:
            self._stream_error = f"stream {session.request.request_id} failed: {session.error}"
            self.counters["streams_failed"] += 1
            logger.error("%s", self._stream_error)
        else:
            logger.info("stream %s ended", session.request.request_id)

    async def _wait_ready(self) -> None:
        if self._init_task is None:
            raise RequestError("worker is not open yet", status=503)
        if not self._init_task.done():
            try:
                async with asyncio.timeout(self.config.start_wait):
                    await asyncio.shield(self._init_task)
            except TimeoutError:
                raise RequestError(
                    "Pipeline is still initializing. Please wait for IDLE status.", status=503
                ) from None
        if self._init_error is not None:
            raise RequestError(f"processor failed to start: {self._init_error}", status=503)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(ssl=self.config.trickle_verify_tls)
            self._http = aiohttp.ClientSession(connector=connector)
        return self._http

    # -- batch -------------------------------------------------------------------------

    async def batch(self, body: bytes, content_type: str) -> BatchResult:
        """Run one batch job (see :mod:`byoc_lab.worker.batch`)."""
        await self._wait_ready()
        self.counters["batch_jobs"] += 1
        return await run_batch(self._runner, body, content_type, self.config.frame_size)
