"""The quickstart's processor, verbatim but for its import line, on the quickstart's frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from byoc_lab import load_processor
from byoc_lab.runner import InputKind, ProcessorRunner

BLACK_640x480 = bytes(640 * 480 * 3)


def _example(repo_root: Path) -> str:
    return f"{repo_root / 'examples' / 'green_tint.py'}:GreenTintProcessor"


async def test_black_frame_gives_quickstart_size_and_correct_green_sum(repo_root: Path) -> None:
    processor = load_processor(_example(repo_root))
    out = await processor.process(BLACK_640x480)
    assert isinstance(out, bytes)
    assert len(out) == 921_600
    # 640*480 pixels, each green byte 0 + 80. The quickstart printed 7,372,800: wrong.
    assert sum(out[1::3]) == 24_576_000
    assert sum(out[0::3]) == 0
    assert sum(out[2::3]) == 0


async def test_runner_feeds_bytes_and_returns_the_same_pixels_as_an_array(repo_root: Path) -> None:
    runner = ProcessorRunner(load_processor(_example(repo_root)))
    assert runner.input_kind is InputKind.BYTES
    assert runner.is_async
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    image[:, :, 1] = 200  # saturates: 200 + 80 -> 255
    image[0, 0] = (10, 20, 30)
    out = await runner.process(image)
    assert out.shape == (480, 640, 3)
    assert out[0, 0].tolist() == [10, 100, 30]
    assert int(out[1:, :, 1].min()) == 255
    assert int(out[:, :, 0].sum()) == 10


def test_source_differs_from_quickstart_only_in_its_import_line(repo_root: Path) -> None:
    text = (repo_root / "examples" / "green_tint.py").read_text()
    assert "from byoc_lab import FrameProcessor, run_processor" in text
    assert "from pytrickle" not in text
    assert "asyncio.run(run_processor(GreenTintProcessor(), port=8000))" in text


async def test_run_processor_serves_until_cancelled(repo_root: Path) -> None:
    import asyncio
    import socket

    import aiohttp

    from byoc_lab import run_processor

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serving = asyncio.create_task(run_processor(load_processor(_example(repo_root)), port=port))
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(20):
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as r:
                        if (await r.json())["status"] == "IDLE":
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            async with http.post(f"http://127.0.0.1:{port}/", data=BLACK_640x480) as r:
                body = await r.read()
        assert sum(body[1::3]) == 24_576_000
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    assert serving.cancelled()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a new server would
        s.bind(("127.0.0.1", port))  # the port is free again
