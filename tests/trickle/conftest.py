"""Real trickle servers on 127.0.0.1 (ephemeral ports), and time limits per test.

Every async test in this directory runs under TEST_TIMEOUT_S, so a protocol bug shows
up as a failure, never as a hang. A loop that never yields to asyncio cannot be
cancelled, so a watchdog thread also dumps every stack and ends the run after
HARD_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

import aiohttp
import pytest
from _pytest.faulthandler import fault_handler_stderr_fd_key
from aiohttp import web

from byoc_lab.trickle import TrickleServer, TrickleServerConfig

from .helpers import Running, StartServer

TEST_TIMEOUT_S = 10.0
HARD_TIMEOUT_S = 30.0
STDERR_FD = 2

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Watchdog: set-up, test and tear-down together may take HARD_TIMEOUT_S at most."""
    # pytest's faulthandler plugin keeps an uncaptured copy of stderr; dump there.
    stderr_fd = item.config.stash.get(fault_handler_stderr_fd_key, STDERR_FD)
    faulthandler.dump_traceback_later(HARD_TIMEOUT_S, exit=True, file=stderr_fd)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run every coroutine test of this directory under ``asyncio.timeout(TEST_TIMEOUT_S)``."""
    original = getattr(item, "obj", None)
    if original is None or not inspect.iscoroutinefunction(original):
        return (yield)

    @functools.wraps(original)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        async with asyncio.timeout(TEST_TIMEOUT_S):
            return await original(*args, **kwargs)

    item.obj = bounded  # type: ignore[attr-defined]
    try:
        return (yield)
    finally:
        item.obj = original  # type: ignore[attr-defined]


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
