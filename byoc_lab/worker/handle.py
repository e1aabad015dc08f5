"""``Worker``: a BYOC worker running inside the notebook's kernel, without blocking it.

The worker lives on byoc_lab's background event loop (:mod:`byoc_lab.runtime`). Each
sync method submits to that loop and waits with a timeout, so cells return promptly
and a blocking client in the same kernel (``requests.post`` to ``worker.url``) works;
each has an async twin (``await worker.astart()``) for top-level ``await``.
"""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from byoc_lab.runtime import get_loop
from byoc_lab.worker.core import WorkerConfig
from byoc_lab.worker.server import WorkerServer

__all__ = ["Worker"]

T = TypeVar("T")
_TIMEOUT = 30.0


class Worker:
    """A BYOC worker for ``processor``, served from the kernel.

    Args:
        processor: an instance, a class, or a spec such as ``"file.py:Class"``.
        capability: the capability name it serves.
        capacity: live streams it accepts at once.
        frame_size: ``(width, height)`` of raw batch bodies.
        token: require ``Authorization: Bearer <token>`` on requests.
        trickle_verify_tls: verify trickle URLs' TLS certificates (go-livepeer
            orchestrators use self-signed ones: pass False behind one).

    ``Worker(GreenTint()).start()`` returns the started worker; use it as a context
    manager, or call :meth:`stop`, to release the port.
    """

    def __init__(
        self,
        processor: Any,
        *,
        capability: str = "byoc_lab",
        capacity: int = 1,
        frame_size: tuple[int, int] = (640, 480),
        token: str | None = None,
        trickle_verify_tls: bool = True,
    ) -> None:
        config = WorkerConfig(
            capability=capability,
            capacity=capacity,
            frame_size=frame_size,
            token=token,
            trickle_verify_tls=trickle_verify_tls,
        )
        self._server = WorkerServer(processor, config)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = _TIMEOUT) -> T:
        return get_loop().run(coro, timeout)

    async def _arun(self, coro: Coroutine[Any, Any, T]) -> T:
        return await get_loop().run_async(coro)

    # -- sync API ----------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Worker:
        """Listen on ``host:port`` (0: a free port) and return ``self`` at once.

        The processor's ``initialize()`` runs in the background; :meth:`status`
        reports LOADING until it is done.
        """
        self._run(self._server.start(host=host, port=port))
        return self

    def stop(self) -> None:
        """Stop streams, shut the processor down and free the port (idempotent)."""
        self._run(self._server.stop())

    def status(self) -> dict[str, Any]:
        """The worker's ``/stream/status`` payload (health, streams, params, counters)."""
        return self._run(self._astatus())

    def swap(self, processor: Any) -> dict[str, Any]:
        """Replace the processor without dropping live streams; returns carried params."""
        return self._run(self._server.core.swap(processor), timeout=120.0)

    def wait_ready(self, timeout: float = 60.0) -> str:
        """Block until ``initialize()`` has finished; return the health state."""
        return self._run(self._await_ready(), timeout)

    # -- async twins -------------------------------------------------------------------

    async def astart(self, port: int = 0, host: str = "127.0.0.1") -> Worker:
        """Async twin of :meth:`start`."""
        await self._arun(self._server.start(host=host, port=port))
        return self

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        await self._arun(self._server.stop())

    async def astatus(self) -> dict[str, Any]:
        """Async twin of :meth:`status`."""
        return await self._arun(self._astatus())

    async def aswap(self, processor: Any) -> dict[str, Any]:
        """Async twin of :meth:`swap`."""
        return await self._arun(self._server.core.swap(processor))

    # -- properties ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return self._server.url

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._server.port

    @property
    def running(self) -> bool:
        """True while it listens."""
        return self._server.running

    @property
    def processor(self) -> Any:
        """The processor in use now."""
        return self._server.core.runner.processor

    async def _astatus(self) -> dict[str, Any]:
        return self._server.core.status()

    async def _await_ready(self) -> str:
        core = self._server.core
        await core.wait_initialized()
        return core.health.value

    def __enter__(self) -> Worker:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._server.url if self.running else "stopped"
        return f"<Worker {self._server.core.runner.name} {where}>"
