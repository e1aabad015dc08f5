"""Serving a worker app on a socket, inside any running event loop.

:class:`WorkerServer` uses aiohttp's ``AppRunner``/``TCPSite``, so it runs on a loop
that is already running (the kernel's background loop, or the CLI's). It binds
127.0.0.1 unless told otherwise; port 0 picks a free port.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from byoc_lab.errors import RuntimeStateError
from byoc_lab.worker.app import create_worker_app
from byoc_lab.worker.core import WorkerConfig, WorkerCore

__all__ = ["WorkerServer", "run_processor"]

logger = logging.getLogger(__name__)


class WorkerServer:
    """One worker listening on ``host:port``; :meth:`start` and :meth:`stop` on its loop."""

    def __init__(self, processor: Any, config: WorkerConfig | None = None) -> None:
        self.core = WorkerCore(processor, config)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8000``."""
        if self._runner is None:
            raise RuntimeStateError("the worker is not running", fix="call start() first")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` and return the base URL.

        Raises:
            RuntimeStateError: already running.
            OSError: the address is in use or cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeStateError(f"the worker is already running at {self.url}")
        runner = web.AppRunner(create_worker_app(self.core), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        logger.info(
            "worker for %s listening on %s (capability %r)",
            self.core.runner.name,
            self.url,
            self.core.config.capability,
        )
        return self.url

    async def stop(self) -> None:
        """Stop streams, shut the processor down and close the socket (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("worker on port %d stopped", self.port)


async def run_processor(processor: Any, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve ``processor`` as a BYOC worker until cancelled (the quickstart's ``__main__``).

    ``asyncio.run(run_processor(GreenTintProcessor(), port=8000))`` serves on
    127.0.0.1:8000; pass ``host="0.0.0.0"`` inside a container. In a notebook use
    :class:`byoc_lab.Worker` instead, which does not block the kernel.
    """
    server = WorkerServer(processor)
    await server.start(host=host, port=port)
    logger.info("Trickle server listening on port %d", server.port)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
