"""Real trickle servers on 127.0.0.1 (ephemeral ports).

Time limits per test come from tests/conftest.py (``TIME_LIMITS``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from byoc_lab.trickle import TrickleServer, TrickleServerConfig

from .helpers import Running, StartServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _recorder(running: Running) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        line = f"{request.method} {request.raw_path}"
        running.started.append(line)
        running.arrived(line).set()
        try:
            return await handler(request)
        finally:
            running.finished.append(line)

    return record


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Factory: serve a TrickleServer with AppRunner + TCPSite on port 0; all stop at teardown.

    Keyword arguments: ``config``, ``base_path``, ``ssl_context``, ``handler_cancellation``.
    Requests are recorded in ``Running.started`` / ``Running.finished``.
    """
    runners: list[web.AppRunner] = []

    async def start(
        config: TrickleServerConfig | None = None,
        *,
        base_path: str = "/",
        ssl_context: Any = None,
        handler_cancellation: bool = False,
    ) -> Running:
        trickle = TrickleServer(
            config if config is not None else TrickleServerConfig(autocreate=True)
        )
        running = Running(trickle, 0, base_path)
        app = web.Application(middlewares=[_recorder(running)])
        trickle.setup(app, base_path=base_path)
        runner = web.AppRunner(
            app, shutdown_timeout=2.0, access_log=None, handler_cancellation=handler_cancellation
        )
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        running.port = runner.addresses[0][1]
        return running

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


@pytest.fixture
async def trickle(start_server: StartServer) -> Running:
    """A standalone server: autocreate on, base path ``/``."""
    return await start_server()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
