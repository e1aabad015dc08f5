"""Worker, orchestrator, gateway and a standalone trickle server on 127.0.0.1, for bad input.

:class:`Stack` runs the four services with small body limits (:data:`~.endpoints.LIMIT`),
prepares what a case needs (a running stream, a channel) and checks that each service
still serves a good request, by its content: a 64x48 black frame comes back with green
80 and red and blue 0, a trickle segment comes back byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import numpy as np
from aiohttp import web

from byoc_lab.builtins import GreenTint
from byoc_lab.network import (
    Capability,
    GatewayConfig,
    GatewayServer,
    OrchestratorConfig,
    OrchestratorServer,
)
from byoc_lab.trickle import TrickleServer, TrickleServerConfig
from byoc_lab.worker import WorkerConfig, WorkerServer

from .endpoints import CAPABILITY, FRAME, FRAME_SIZE, JSON, LIMIT, RAW, SECRET, Setup, livepeer


@dataclass
class Stack:
    """The four services and a client session; :func:`running_stack` starts and stops them."""

    http: aiohttp.ClientSession
    worker: WorkerServer
    orchestrator: OrchestratorServer
    gateway: GatewayServer
    trickle: TrickleServer
    trickle_url: str

    def base(self, service: str) -> str:
        """The base URL of ``service``."""
        if service == "trickle":
            return self.trickle_url
        server = {"worker": self.worker, "orchestrator": self.orchestrator}.get(service)
        return (server or self.gateway).url

    async def prepare(self, setup: Setup | None, service: str) -> None:
        """Make sure what a case needs runs: a stream somewhere, or channel ``chan``."""
        if setup == "worker-stream" and "s1" not in self.worker.core.status()["streams"]:
            await self._ok(
                "POST", self.worker.url + "/stream/start", b'{"gateway_request_id":"s1"}'
            )
        elif setup == "orchestrator-stream":
            if all(s.stream_id != "os1" for s in self.orchestrator.orchestrator.streams()):
                await self._ok(
                    "POST",
                    self.orchestrator.url + "/ai/stream/start",
                    b"{}",
                    {**livepeer(id="os1"), **JSON},
                )
        elif setup == "gateway-stream":
            if all(s.stream_id != "gs1" for s in self.gateway.gateway.streams()):
                await self._ok(
                    "POST",
                    self.gateway.url + "/process/stream/start",
                    b'{"stream_id":"gs1"}',
                    {**livepeer(), **JSON},
                )
        elif setup == "channel":
            server = (
                self.trickle if service == "trickle" else self.orchestrator.orchestrator.trickle
            )
            server.create_channel("chan", "video/MP2T")

    async def check_serves(self, service: str) -> None:
        """``service`` (and what it relies on) answers a good request correctly."""
        health = await self._json("GET", self.worker.url + "/health")
        assert health["status"] in ("IDLE", "OK"), health
        if service == "worker":
            assert_green(await self._ok("POST", self.worker.url + "/job", FRAME, RAW))
        elif service == "orchestrator":
            url = self.orchestrator.url + "/process/request/job"
            assert_green(await self._ok("POST", url, FRAME, {**livepeer(), **RAW}))
            orch = self.orchestrator.orchestrator
            assert orch.registry.load(CAPABILITY) == len(orch.streams()), "capacity leaked"
            orch.trickle.create_channel("good")
            await self._round_trip(self.orchestrator.url + "/ai/trickle/good/0")
            orch.trickle.close_channel("good")
        elif service == "gateway":
            url = self.gateway.url + "/process/request/job"
            assert_green(await self._ok("POST", url, FRAME, {**livepeer(), **RAW}))
        else:
            await self._round_trip(self.trickle_url + f"/good-{len(self.trickle.channels())}/0")

    async def _round_trip(self, url: str) -> None:
        data = b"a segment \x00\xff" * 100
        await self._ok("POST", url, data, {"Content-Type": "video/MP2T"})
        assert await self._ok("GET", url) == data

    async def _ok(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> bytes:
        async with self.http.request(method, url, data=body, headers=headers or JSON) as r:
            data = await r.read()
            assert r.status == 200, (method, url, r.status, data[:300])
            return data

    async def _json(self, method: str, url: str) -> dict[str, object]:
        value = json.loads(await self._ok(method, url))
        assert isinstance(value, dict)
        return value


def assert_green(body: bytes) -> None:
    """``body`` is the 64x48 black frame tinted by GreenTint's default boost of 80."""
    width, height = FRAME_SIZE
    image = np.frombuffer(body, np.uint8).reshape(height, width, 3)
    assert (image[:, :, 1] == 80).all()
    assert not image[:, :, 0].any()
    assert not image[:, :, 2].any()


async def running_stack() -> AsyncIterator[Stack]:
    """Start the four services; stop them all, in reverse order, when done."""
    started: list[WorkerServer | OrchestratorServer | GatewayServer] = []
    runner: web.AppRunner | None = None
    try:
        worker = WorkerServer(
            GreenTint(),
            WorkerConfig(
                capability=CAPABILITY, capacity=2, frame_size=FRAME_SIZE, max_body_bytes=LIMIT
            ),
        )
        await worker.start()
        started.append(worker)
        await worker.core.wait_initialized()
        orchestrator = OrchestratorServer(
            OrchestratorConfig(
                secret=SECRET,
                capabilities=(Capability(name=CAPABILITY, url=worker.url, capacity=2),),
                max_body_bytes=LIMIT,
                trickle=TrickleServerConfig(max_segment_bytes=LIMIT),
            )
        )
        await orchestrator.start()
        started.append(orchestrator)
        gateway = GatewayServer(
            GatewayConfig(orchestrators=(orchestrator.url,), max_body_bytes=LIMIT)
        )
        await gateway.start()
        started.append(gateway)
        trickle = TrickleServer(TrickleServerConfig(autocreate=True, max_segment_bytes=LIMIT))
        runner = web.AppRunner(trickle.make_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        trickle_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as http:
            yield Stack(http, worker, orchestrator, gateway, trickle, trickle_url)
    finally:
        if runner is not None:
            await runner.cleanup()
        # The worker before the orchestrator: its streams then close their channels
        # on an orchestrator that still answers.
        for server in sorted(started, key=lambda s: isinstance(s, OrchestratorServer)):
            await server.stop()
