"""A real pytrickle 0.1.6 worker on byoc_lab's local network.

pytrickle registers itself with byoc_lab's orchestrator through its own helper
(``RegisterCapability``, reading ``ORCH_URL``/``ORCH_SECRET``/``CAPABILITY_*``), and a
stream started through byoc_lab's gateway with ``GatewayClient`` comes back
green-tinted, every frame, in order.

pytrickle 0.1.6 sometimes loses the last frame of a stream when its input ends (seen
in about one run in four), so the clip carries TAIL extra frames after the FRAMES
that are checked: every one of those FRAMES must come back, in order.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from peers.harness import peer_command

from byoc_lab import GatewayClient, SyntheticSource, read_frame_number
from byoc_lab.network import (
    GatewayConfig,
    GatewayServer,
    OrchestratorConfig,
    OrchestratorServer,
)

pytestmark = pytest.mark.interop

FRAMES = 60
TAIL = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_up(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(60):
        while True:
            assert proc.returncode is None, "the pytrickle worker exited"
            try:
                async with http.get(url + "/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)


async def test_pytrickle_worker_registers_and_streams_through_byoc_lab(pytrickle: Path) -> None:
    orchestrator = OrchestratorServer(OrchestratorConfig())
    orch_url = await orchestrator.start(port=0)
    gateway = GatewayServer(GatewayConfig(orchestrators=(orch_url,)))
    gateway_url = await gateway.start(port=0)
    port = _free_port()
    worker = await asyncio.create_subprocess_exec(
        *peer_command("pytrickle_worker.py", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_up(f"http://127.0.0.1:{port}", worker)
        register = await asyncio.create_subprocess_exec(
            *peer_command("pytrickle_register.py"),
            env={
                **os.environ,
                "ORCH_URL": orch_url,
                "ORCH_SECRET": orchestrator.orchestrator.secret,
                "CAPABILITY_NAME": "green-tint-pytrickle",
                "CAPABILITY_URL": f"http://127.0.0.1:{port}",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await register.communicate()
        assert register.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == "registered"
        names = [c.name for c in orchestrator.orchestrator.capabilities()]
        assert names == ["green-tint-pytrickle"]

        async with GatewayClient(gateway_url, capability="green-tint-pytrickle") as client:
            # pytrickle drops frames that arrive at exactly its max_framerate: keep it above.
            stream = await client.astart_stream(
                params={"width": 128, "height": 96, "max_framerate": 60}
            )
            source = SyntheticSource(
                "solid", width=128, height=96, color=(100, 100, 100), count=FRAMES + TAIL
            )
            await stream.apublish(source)
            frames = []
            async for frame in stream.aframes(timeout=8):
                frames.append(frame)
                if len(frames) == FRAMES:
                    break
            await stream.astop()
    finally:
        worker.terminate()
        async with asyncio.timeout(20):
            await worker.wait()
        await gateway.stop()
        await orchestrator.stop()
    numbers = [read_frame_number(frame) for frame in frames]
    assert numbers == list(range(FRAMES))
    for frame in frames:
        bottom = frame[48:].reshape(-1, 3).astype(np.float64).mean(axis=0)
        assert abs(bottom[1] - 180) < 10, bottom  # green boosted by 80
        assert abs(bottom[0] - 100) < 10, bottom
        assert abs(bottom[2] - 100) < 10, bottom
