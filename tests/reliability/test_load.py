"""Load: live streams up to the worker's capacity and beyond, and a batch job burst.

Everything goes through a :class:`~byoc_lab.LocalNetwork` (worker → orchestrator with
its trickle server → gateway, all on 127.0.0.1) with :class:`~byoc_lab.GatewayClient`,
the path a user's notebook takes. Frames carry burned-in numbers (stream ``k`` numbers
its frames ``k * 1000 + i``), so every output frame is identified by its content.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from byoc_lab import GatewayClient, LocalNetwork
from byoc_lab.builtins import GreenTint
from byoc_lab.client import JobError, StreamHandle
from byoc_lab.framecode import burn_frame_number, read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.runtime import get_loop

from .loadgen import BOOST, GREY, batch_load, sample

CAPABILITY = "load-tint"
FPS = 30.0


def numbered(first: int, count: int) -> Iterator[RGBImage]:
    """Grey 128x96 frames numbered ``first``, ``first + 1``, …"""
    for number in range(first, first + count):
        image = np.full((96, 128, 3), GREY, dtype=np.uint8)
        burn_frame_number(image, number)
        yield image


def assert_tinted(image: RGBImage) -> None:
    """Below the frame code: G = grey + boost, R = B = grey (within codec tolerance)."""
    half = image[image.shape[0] // 2 :].reshape(-1, 3).mean(axis=0)
    assert abs(half[1] - (GREY + BOOST)) < 6, half
    assert abs(half[0] - GREY) < 6, half
    assert abs(half[2] - GREY) < 6, half


class Reader:
    """Reads one stream's output frames in a task, noting each frame's number."""

    def __init__(self, stream: StreamHandle) -> None:
        self.stream = stream
        self.numbers: list[int | None] = []
        self.task = asyncio.create_task(self._read(), name=f"reader {stream.stream_id}")

    async def _read(self) -> None:
        async for image in self.stream.aframes(timeout=10):
            assert_tinted(image)
            self.numbers.append(read_frame_number(image))

    async def finish(self, within: float = 20.0) -> list[int | None]:
        await asyncio.wait_for(self.task, within)
        return self.numbers


async def until(check: object, what: str, within: float = 10.0) -> None:
    """Poll ``check()`` every 20 ms until it is truthy; fail after ``within`` seconds."""
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"{what}: not within {within} s")
        await asyncio.sleep(0.02)


async def start(client: GatewayClient, index: int, count: int) -> tuple[StreamHandle, Reader]:
    stream = await client.astart_stream(stream_name=f"s{index}", enable_data=False)
    await stream.apublish(numbered(index * 1000, count), fps=FPS)
    return stream, Reader(stream)


async def test_streams_beyond_capacity_are_refused_cleanly_and_the_running_ones_go_on() -> None:
    async with LocalNetwork(GreenTint(), capability=CAPABILITY, capacity=3) as net:
        client = net.client
        readers: list[Reader] = []
        try:
            # Three streams fill the worker: 9 s, 8 s and 8 s of input at 30 fps.
            for index, count in ((1, 270), (2, 240), (3, 240)):
                readers.append((await start(client, index, count))[1])
            a, b, c = readers
            await until(lambda: all(len(r.numbers) >= 15 for r in readers), "first frames")

            # A 4th and a 5th are refused, with a status and message the client can act on.
            for index in (4, 5):
                with pytest.raises(JobError) as refused:
                    await client.astart_stream(stream_name=f"s{index}", enable_data=False)
                assert refused.value.status == 400
                assert f"No orchestrators found for capability {CAPABILITY}" in str(refused.value)
                assert f"{net.orchestrator_url}: no free capacity for {CAPABILITY}" in str(
                    refused.value
                )
            assert net.status()["active_streams"] == 3

            # Stopping one frees its slot: the next start succeeds and gets every frame.
            await a.stream.astop()
            a_numbers = await a.finish()
            d_stream, d = await start(client, 4, 60)
            readers.append(d)
            with pytest.raises(JobError, match="no free capacity"):  # full again
                await client.astart_stream(stream_name="s5", enable_data=False)
            assert await d_stream.await_published(10) == 60
            d_numbers = await d.finish()
            b_numbers, c_numbers = await b.finish(), await c.finish()
        finally:
            for reader in readers:
                await reader.stream.astop()
            await asyncio.gather(*(r.task for r in readers), return_exceptions=True)
        await until(lambda: net.status()["active_streams"] == 0, "the worker idle again")

    # A: every frame until the stop, in order; B and C: every frame, through all of it.
    assert len(a_numbers) >= 15
    assert a_numbers == list(range(1000, 1000 + len(a_numbers)))
    assert b_numbers == list(range(2000, 2240))
    assert c_numbers == list(range(3000, 3240))
    assert d_numbers == list(range(4000, 4060))


async def test_a_burst_of_batch_jobs_through_the_gateway_is_answered_correctly() -> None:
    """200 jobs/s for 5 s through gateway → orchestrator → worker; every answer checked.

    Through the gateway (not the worker directly): each job then also costs the
    gateway's token request and the orchestrator's capacity reservation, the path
    every Livepeer job takes. Frames are 64x48 raw RGB, so the load is the servers'
    per-job work, not memory copies.
    """
    capacity, size = 16, (64, 48)
    baseline = await sample(0)
    async with LocalNetwork(
        GreenTint(), capability=CAPABILITY, capacity=capacity, frame_size=size
    ) as net:
        client = net.client
        loop = get_loop()
        # Warm-up: fill every connection pool up to ``capacity`` jobs in flight.
        warm = await loop.run_async(
            batch_load(client, rate=2000, seconds=0.1, frame_size=size, max_in_flight=capacity)
        )
        assert warm.errors == []
        before = await sample(1)
        report = await loop.run_async(
            batch_load(client, rate=200, seconds=5, frame_size=size, max_in_flight=capacity)
        )
        after = await sample(2)
        print(f"\nbatch load: {report.summary()}")
        print(f"resources: baseline {baseline}\n  before {before}\n  after {after}")
    ended = await sample(3)
    for _ in range(100):  # closing sockets and their tasks may take a moment
        if ended.tasks <= baseline.tasks and ended.fds <= baseline.fds + 2:
            break
        await asyncio.sleep(0.05)
        ended = await sample(3)
    print(f"  after stop {ended}")

    assert report.errors == [], report.errors[:5]
    assert report.ok == report.sent == 1000
    assert report.sent / report.seconds > 50, report.summary()  # a floor for a busy machine
    # Nothing grows with the jobs: pools hold at most ``capacity`` connections per hop.
    assert after.fds <= before.fds + 8, (before, after)
    assert after.tasks <= before.tasks + 8, (before, after)
    assert after.rss_mb <= before.rss_mb + 20, (before, after)
    # And the network leaves nothing behind when it stops.
    assert ended.tasks <= baseline.tasks, (baseline, ended)
    assert ended.fds <= baseline.fds + 2, (baseline, ended)


def test_the_soak_driver_passes_a_short_soak(capsys: pytest.CaptureFixture[str]) -> None:
    """``make soak``'s driver, shortened to 6 s: its table, its checks and its verdict."""
    from . import soak

    code = soak.main(["--minutes", "0.1", "--batch-rate", "100", "--batch-seconds", "3"])
    out = capsys.readouterr().out
    print(out)
    assert code == 0, out
    assert soak.HEADER in out
    assert "PASS  stream: 180/180 frames sent, 180 delivered in order; lost 0" in out
    assert "PASS  batch: 300 jobs" in out
    assert "FAIL" not in out
    assert out.rstrip().endswith("soak passed")
