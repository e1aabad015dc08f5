"""The pytrickle target's generated ``server.py`` under real pytrickle 0.1.6.

pytrickle lives in its own venv (``make peers``; it pins av 14.2.0 and pulls torch).
byoc_lab's wheel from the context is installed with pip into a directory of its own
and put on ``PYTHONPATH``, so the peer venv itself stays untouched.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from peers.harness import pytrickle_python

from byoc_lab import GatewayClient, SyntheticSource, read_frame_number
from byoc_lab.export.api import ExportResult, export
from byoc_lab.loader import load_processor_class
from byoc_lab.network import GatewayConfig, GatewayServer, OrchestratorConfig, OrchestratorServer

from .conftest import SCENARIOS, container_env, dockerfile, exec_form, free_port
from .golden import CAPABILITY

pytestmark = pytest.mark.interop

FRAMES = 45


@pytest.fixture(scope="session")
def peer_python() -> Path:
    """Python of the pytrickle 0.1.6 venv (built by ``make peers`` if missing)."""
    return pytrickle_python()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _site_with_wheel(context: ExportResult, where: Path) -> Path:
    """The context's byoc_lab wheel, pip-installed into ``where`` (for PYTHONPATH)."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
            *("--target", str(where), str(context.path / context.spec.wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return where


async def test_server_streams_green_frames_through_byoc_labs_network(
    pytrickle_context: ExportResult, peer_python: Path, tmp_path: Path
) -> None:
    site = _site_with_wheel(pytrickle_context, tmp_path / "site")
    parsed = dockerfile(pytrickle_context.path)
    argv = exec_form(parsed, "ENTRYPOINT")
    assert argv == ["python", "server.py"]
    orchestrator = OrchestratorServer(OrchestratorConfig())
    orch_url = await orchestrator.start(port=0)
    gateway = GatewayServer(GatewayConfig(orchestrators=(orch_url,)))
    gateway_url = await gateway.start(port=0)
    port = free_port()
    env = container_env(
        parsed,
        peer_python.parent,
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONPATH=str(site),
        ORCH_URL=orch_url,
        ORCH_SECRET=orchestrator.orchestrator.secret,
        CAPABILITY_URL=f"http://127.0.0.1:{port}",
    )
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = await asyncio.create_subprocess_exec(
            str(peer_python),
            *argv[1:],
            cwd=pytrickle_context.path,
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(90):
            while True:
                assert server.returncode is None, _tail(log)
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as response:
                        if (await response.json())["status"] == "IDLE":
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.2)
        for _ in range(300):
            if orchestrator.orchestrator.capabilities():
                break
            await asyncio.sleep(0.1)
        assert [c.name for c in orchestrator.orchestrator.capabilities()] == [CAPABILITY]

        async with GatewayClient(gateway_url, capability=CAPABILITY) as client:
            # pytrickle drops frames that arrive at exactly its max_framerate: keep it above.
            stream = await client.astart_stream(
                params={"width": 128, "height": 96, "max_framerate": 60}
            )
            source = SyntheticSource(
                "solid", width=128, height=96, color=(100, 100, 100), count=FRAMES
            )
            await stream.apublish(source)
            frames = []
            async for frame in stream.aframes(timeout=10):
                frames.append(frame)
                if len(frames) == FRAMES:
                    break
            await stream.astop()
    finally:
        server.terminate()
        async with asyncio.timeout(20):
            exit_code = await server.wait()
        await gateway.stop()
        await orchestrator.stop()
    assert exit_code == 0, _tail(log)  # SIGTERM: a clean stop
    assert "GreenTintProcessor: shutdown" in _tail(log)  # the processor's shutdown()
    numbers = [read_frame_number(frame) for frame in frames]
    # In order, none missing, except that pytrickle 0.1.6 itself sometimes loses the very
    # last frame when the input ends (tests/interop/test_network_pytrickle.py shows the
    # same with its own pytrickle worker, about one run in four).
    assert numbers == list(range(len(numbers)))
    assert len(numbers) >= FRAMES - 1, numbers
    for frame in frames:
        bottom = frame[48:].reshape(-1, 3).astype(np.float64).mean(axis=0)
        assert abs(bottom[1] - 180) < 6, bottom  # green boosted by 80
        assert abs(bottom[0] - 100) < 6, bottom
        assert abs(bottom[2] - 100) < 6, bottom


CHECKS = """
import asyncio, json, sys
from fractions import Fraction
import numpy as np, torch
from pytrickle.frames import VideoFrame
import server

values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
tensor = server.rgb_to_tensor(values, torch.device("cpu"))
assert tensor.shape == (1, 16, 16, 3) and tensor.dtype == torch.float32
assert float(tensor.min()) >= 0.0 and float(tensor.max()) <= 1.0
# pytrickle's encoder truncates (t * 255).byte(): every value survives it exactly.
assert np.array_equal((tensor * 255).byte()[0].numpy(), values)
# pytrickle's decoder divides by 255: every value comes back exactly.
decoded = torch.tensor(values.astype(np.float32) / 255.0).unsqueeze(0)
assert np.array_equal(server.tensor_to_rgb(decoded), values)
wild = torch.tensor([[[[-0.5, 1.5, 0.5]]]])
assert server.tensor_to_rgb(wild).tolist() == [[[0, 255, 128]]], "clamped"

frame = VideoFrame(decoded, 0, Fraction(1, 90000))
out = asyncio.run(server.process_video(frame))
green = (out.tensor * 255).byte()[0].numpy()
assert np.array_equal(green[:, :, 1], np.minimum(values[:, :, 1].astype(int) + 20, 255))
assert np.array_equal(green[:, :, 0], values[:, :, 0])
asyncio.run(server.update_params({"boost": 40, "width": 512, "keep": "alive"}))
asyncio.run(server.on_stream_start({"mode": "keep", "height": 96}))
print(json.dumps(server.runner.processor.get_params(), sort_keys=True))
"""


def test_tensor_conversion_clamps_and_round_trips_and_params_apply(
    peer_python: Path, tmp_path: Path
) -> None:
    boost_tint = load_processor_class(f"{SCENARIOS / 'boost_tint.py'}:BoostTint")
    result = export(boost_tint(boost=20), tmp_path / "ctx", target="pytrickle", capability="tint")
    site = _site_with_wheel(result, tmp_path / "site")
    done = subprocess.run(
        [str(peer_python), "-c", CHECKS],
        cwd=result.path,
        env={**os.environ, "PYTHONPATH": f"{result.path}{os.pathsep}{site}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == '{"boost": 40, "mode": "keep"}'
