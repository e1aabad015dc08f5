"""The exported context, run as its container would run it, matches the kernel's worker.

No Docker engine runs here, so a fresh venv with exactly the context's
``requirements.txt`` and wheel stands in for the image (``container_venv``). The
Dockerfile's ENTRYPOINT runs from the context directory with the Dockerfile's ENV and
registers itself with a real orchestrator through ORCH_URL/ORCH_SECRET/CAPABILITY_URL,
as the container would. A batch job and a live stream through the gateway must come
back the same from it as from a worker started in this process with the same file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from byoc_lab import GatewayClient, SyntheticSource, read_frame_number
from byoc_lab.export.api import ExportResult
from byoc_lab.frames import RGBImage
from byoc_lab.loader import load_processor
from byoc_lab.network import GatewayConfig, GatewayServer, OrchestratorConfig, OrchestratorServer
from byoc_lab.worker import WorkerConfig, WorkerServer
from byoc_lab.worker.registration import Registration, register

from .conftest import container_env, dockerfile, exec_form, free_port
from .golden import CAPABILITY, QUICKSTART

KERNEL = "green-tint-kernel"
FRAMES = 45
SIZE = (128, 96)


@dataclass
class Network:
    """An orchestrator and a gateway on 127.0.0.1, and the in-kernel reference worker."""

    orchestrator: OrchestratorServer
    gateway: GatewayServer
    kernel_worker: WorkerServer

    @property
    def secret(self) -> str:
        return self.orchestrator.orchestrator.secret

    def capabilities(self) -> list[str]:
        return sorted(c.name for c in self.orchestrator.orchestrator.capabilities())


@pytest.fixture
async def network() -> AsyncIterator[Network]:
    orchestrator = OrchestratorServer(OrchestratorConfig())
    orch_url = await orchestrator.start(port=0)
    gateway = GatewayServer(GatewayConfig(orchestrators=(orch_url,)))
    await gateway.start(port=0)
    worker = WorkerServer(load_processor(QUICKSTART), WorkerConfig(capability=KERNEL))
    worker_url = await worker.start(port=0)
    try:
        async with aiohttp.ClientSession() as http:
            await register(
                http,
                Registration(
                    orch_url=orch_url,
                    secret=orchestrator.orchestrator.secret,
                    name=KERNEL,
                    url=worker_url,
                ),
            )
        await worker.core.wait_initialized()
        yield Network(orchestrator, gateway, worker)
    finally:
        await worker.stop()
        await gateway.stop()
        await orchestrator.stop()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _health(url: str, process: asyncio.subprocess.Process, log: Path) -> str:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                pytest.fail(f"the exported worker exited: {_tail(log)}")
            try:
                async with http.get(url + "/health") as response:
                    status: str = (await response.json())["status"]
                    if status != "LOADING":
                        return status
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"no /health answer from the exported worker: {_tail(log)}")


async def _stream(client: GatewayClient, capability: str) -> dict[int, RGBImage]:
    width, height = SIZE
    stream = await client.astart_stream(capability, params={"width": width, "height": height})
    await stream.apublish(SyntheticSource("bars", width=width, height=height, count=FRAMES))
    frames = []
    async for frame in stream.aframes(timeout=10):
        frames.append(frame)
    await stream.astop()
    assert len(frames) == FRAMES, capability
    numbered = {read_frame_number(frame): frame for frame in frames}
    return {number: frame for number, frame in numbered.items() if number is not None}


async def test_exported_entrypoint_is_the_kernels_worker(
    green_context: ExportResult, container_venv: Path, network: Network, tmp_path: Path
) -> None:
    parsed = dockerfile(green_context.path)
    argv = exec_form(parsed, "ENTRYPOINT")
    port = free_port()  # the container's 8000, published on a free port here
    argv[argv.index("--port") + 1] = str(port)
    env = container_env(
        parsed,
        container_venv,
        ORCH_URL=network.orchestrator.url,
        ORCH_SECRET=network.secret,
        CAPABILITY_URL=f"http://127.0.0.1:{port}",
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=green_context.path, env=env, stdout=sink, stderr=sink
        )
    try:
        assert await _health(f"http://127.0.0.1:{port}", process, log) == "IDLE"
        for _ in range(100):
            if CAPABILITY in network.capabilities():
                break
            await asyncio.sleep(0.1)
        assert network.capabilities() == sorted([CAPABILITY, KERNEL]), _tail(log)

        frame = next(iter(SyntheticSource("bars", width=640, height=480, count=1))).image
        async with GatewayClient(network.gateway.url) as client:
            ours = await client.asubmit_job(CAPABILITY, frame.tobytes())
            kernels = await client.asubmit_job(KERNEL, frame.tobytes())
            assert ours.body == kernels.body  # byte for byte
            expected = frame.copy()
            expected[:, :, 1] = np.minimum(frame[:, :, 1].astype(np.uint16) + 80, 255)
            assert ours.body == expected.tobytes()

            exported = await _stream(client, CAPABILITY)
            reference = await _stream(client, KERNEL)
    finally:
        process.terminate()
        async with asyncio.timeout(20):
            await process.wait()
    assert sorted(exported) == sorted(reference) == list(range(FRAMES)), _tail(log)
    for number in range(FRAMES):
        # Same decoder, processor and encoder settings: the same pixels, not just close.
        assert np.array_equal(exported[number], reference[number]), number
    assert process.returncode == 0, _tail(log)  # SIGTERM: a clean exit
    assert "registered capability 'green-tint-cpu'" in _tail(log)
