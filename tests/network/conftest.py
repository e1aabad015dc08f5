"""Real workers, orchestrators and gateways on 127.0.0.1 (ephemeral ports).

Time limits per test come from tests/conftest.py (``TIME_LIMITS``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from byoc_lab.builtins import GreenTint
from byoc_lab.loader import load_processor
from byoc_lab.network import (
    Capability,
    GatewayConfig,
    GatewayServer,
    OrchestratorConfig,
    OrchestratorServer,
)
from byoc_lab.worker import WorkerConfig, WorkerServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUICKSTART = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"
SECRET = "test-orchestrator-secret"
FRAME = bytes(640 * 480 * 3)
GREEN_SUM = 640 * 480 * 80


@dataclass
class Net:
    """Starts real servers for one test and stops them all at teardown."""

    http: aiohttp.ClientSession
    servers: list[Any] = field(default_factory=list)

    async def worker(self, processor: Any = None, **config: Any) -> WorkerServer:
        server = WorkerServer(
            processor if processor is not None else GreenTint(), WorkerConfig(**config)
        )
        await server.start(port=0)
        self.servers.append(server)
        await server.core.wait_initialized()
        return server

    async def quickstart_worker(self) -> WorkerServer:
        return await self.worker(load_processor(QUICKSTART))

    async def orchestrator(self, *workers: tuple[str, str], **config: Any) -> OrchestratorServer:
        """An orchestrator with ``(capability, worker_url)`` registered statically."""
        config.setdefault("secret", SECRET)
        config.setdefault("monitor_interval", 0.2)
        config.setdefault("keepalive_interval", 0.5)
        capabilities = tuple(Capability(name=name, url=url) for name, url in workers)
        server = OrchestratorServer(OrchestratorConfig(capabilities=capabilities, **config))
        await server.start(port=0)
        self.servers.append(server)
        return server

    async def gateway(self, *orchestrators: str, **config: Any) -> GatewayServer:
        server = GatewayServer(GatewayConfig(orchestrators=orchestrators, **config))
        await server.start(port=0)
        self.servers.append(server)
        return server

    async def chain(
        self, capability: str = "green-tint-cpu", processor: Any = None
    ) -> tuple[WorkerServer, OrchestratorServer, GatewayServer]:
        """worker → orchestrator → gateway, the capability registered statically."""
        worker = await (
            self.worker(processor) if processor is not None else self.quickstart_worker()
        )
        orch = await self.orchestrator((capability, worker.url))
        gateway = await self.gateway(orch.url)
        return worker, orch, gateway


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    async with aiohttp.ClientSession() as http:
        network = Net(http)
        try:
            yield network
        finally:
            for server in reversed(network.servers):
                await server.stop()


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingWorker:
    """Records what go-livepeer's side sends a worker's ``/stream/*`` routes; answers 200.

    Used only to assert the exact bytes and headers of orchestrator → worker calls, which
    a real worker parses away. It stands in for no peer byoc_lab claims interop with.
    """

    runner: web.AppRunner
    url: str
    calls: list[Recorded] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]


@pytest.fixture
async def recording_worker() -> AsyncIterator[RecordingWorker]:
    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        holder.calls.append(Recorded(request.path, dict(request.headers), body))
        return web.json_response({"status": "success"})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "OK"})

    app = web.Application()
    app.router.add_post("/stream/{verb}", record)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    holder = RecordingWorker(runner, f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        yield holder
    finally:
        await runner.cleanup()


POLL_S = 0.02


async def poll(check: Any, *, within: float = 4.0) -> Any:
    """Call ``check()`` (sync or async) until it returns something truthy; return that.

    Fails the test if nothing truthy came within ``within`` seconds.
    """
    for _ in range(int(within / POLL_S)):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(POLL_S)
    pytest.fail(f"condition not met within {within} s")
