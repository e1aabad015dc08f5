"""Serving a worker on a socket, inside any running event loop.

:class:`WorkerServer` is an :class:`~byoc_lab.serving.AppServer` around a
:class:`~byoc_lab.worker.core.WorkerCore`, so it runs on a loop that is already
running (the kernel's background loop, or the CLI's).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from byoc_lab.serving import AppServer
from byoc_lab.worker.app import create_worker_app
from byoc_lab.worker.core import WorkerConfig, WorkerCore

__all__ = ["WorkerServer", "run_processor"]

logger = logging.getLogger(__name__)


class WorkerServer(AppServer):
    """One worker listening on ``host:port``; :meth:`start` and :meth:`stop` on its loop.

    Stopping ends its streams and shuts the processor down (the app's cleanup).
    """

    kind = "worker"

    def __init__(self, processor: Any, config: WorkerConfig | None = None) -> None:
        super().__init__()
        self.core = WorkerCore(processor, config)

    def build_app(self) -> web.Application:
        """The worker's HTTP API around :attr:`core`."""
        return create_worker_app(self.core)

    def on_listening(self, url: str) -> None:
        """Say what listens where, for people reading the log."""
        logger.info(
            "worker for %s listening on %s (capability %r)",
            self.core.runner.name,
            url,
            self.core.config.capability,
        )


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
