"""Running a worker as a process until it is told to stop (``byoc-lab serve``)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from byoc_lab.signals import wait_for_shutdown_signal
from byoc_lab.worker.core import WorkerConfig
from byoc_lab.worker.registration import Registrar, Registration
from byoc_lab.worker.server import WorkerServer

__all__ = ["serve_forever"]

logger = logging.getLogger(__name__)


async def serve_forever(
    processor: Any,
    config: WorkerConfig,
    *,
    host: str,
    port: int,
    registration: Registration | None = None,
    register_interval: float = 60.0,
) -> None:
    """Serve until SIGINT/SIGTERM, registering with an orchestrator when asked.

    On the way out: stop registering, stop streams, shut the processor down.
    """
    server = WorkerServer(processor, config)
    await server.start(host=host, port=port)
    logger.info("Trickle server listening on port %d", server.port)
    http: aiohttp.ClientSession | None = None
    registrar: Registrar | None = None
    try:
        if registration is not None:
            http = aiohttp.ClientSession()
            registrar = Registrar(http, registration, interval=register_interval)
            registrar.start()
        await wait_for_shutdown_signal()
        logger.info("stopping")
    finally:
        if registrar is not None:
            await registrar.stop()
        if http is not None:
            await http.close()
        await server.stop()
