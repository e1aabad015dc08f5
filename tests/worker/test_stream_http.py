"""Live streams through the worker's HTTP API, started exactly as go-livepeer starts them.

The rig's trickle server plays the orchestrator's ``/ai/trickle/``: it holds the five
channels go-livepeer creates before it calls ``POST {worker}/stream/start`` with
``X-Stream-Id`` and the body of wire doc §1.4 step 3.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from byoc_lab import GreenTint
from byoc_lab.worker import WorkerConfig, WorkerServer
from byoc_lab.worker.request import SessionConfig

from .conftest import FAST, StreamRig, assert_tinted, make_clip

TEST_SESSIONS = SessionConfig(
    retry=FAST,
    heartbeat_interval=0.3,
    status_interval=0.3,
    error_interval=0.2,
    data_interval=0.05,
    final_timeout=3.0,
)


@pytest.fixture
async def worker() -> AsyncIterator[WorkerServer]:
    server = WorkerServer(GreenTint(), WorkerConfig(session=TEST_SESSIONS))
    await server.start(port=0)
    await server.core.wait_initialized()
    try:
        yield server
    finally:
        await server.stop()


def go_livepeer_body(rig: StreamRig, mid: str) -> dict[str, Any]:
    """What go-livepeer's orchestrator posts (byoc/stream_orchestrator.go), field for field."""
    rig.request(mid)  # creates {mid}, {mid}-out, -control, -events, -data
    return {
        "gateway_request_id": mid,
        "control_url": rig.url(f"{mid}-control"),
        "events_url": rig.url(f"{mid}-events"),
        "subscribe_url": rig.url(mid),
        "publish_url": rig.url(f"{mid}-out"),
        "data_url": rig.url(f"{mid}-data"),
        "params": {},
    }


async def _start(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(
        url + "/stream/start", json=body, headers={"X-Stream-Id": body["gateway_request_id"]}
    ) as response:
        payload: dict[str, Any] = await response.json()
        assert response.status == 200, payload
        return payload


async def _health(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url + "/health") as response:
        payload: dict[str, Any] = await response.json()
        return payload


async def _wait_health(http: aiohttp.ClientSession, url: str, status: str) -> dict[str, Any]:
    """Poll /health (as a load balancer would) until it reports ``status``; 15 s at most."""
    for _ in range(300):
        health = await _health(http, url)
        if health["status"] == status:
            return health
        await asyncio.sleep(0.05)
    raise AssertionError(f"health never became {status}: {health}")


async def test_every_frame_comes_back_tinted_in_order(rig: StreamRig, worker: WorkerServer) -> None:
    clip = make_clip(60)
    body = go_livepeer_body(rig, "mid-1")
    answer = await _start(rig.http, worker.url, body)
    assert answer == {
        "status": "success",
        "message": "Stream started successfully",
        "request_id": "mid-1",
    }
    assert (await _health(rig.http, worker.url))["status"] == "OK"
    reading = asyncio.create_task(rig.read_output("mid-1"))
    await rig.feed("mid-1", clip.segments, pace=0.002)
    out = await reading
    assert out.numbers == list(range(60))
    for frame in out.frames:
        assert_tinted(frame)
    await _wait_health(rig.http, worker.url, "IDLE")


async def test_unreachable_input_is_error_health_then_the_next_start_works(
    rig: StreamRig, worker: WorkerServer
) -> None:
    body = go_livepeer_body(rig, "lost")
    body["subscribe_url"] = "http://127.0.0.1:9/nowhere"  # nothing listens on port 9
    reading = asyncio.create_task(rig.read_json("lost-events"))
    await _start(rig.http, worker.url, body)
    health = await _wait_health(rig.http, worker.url, "ERROR")
    assert "stream lost failed" in health["error"]
    assert "127.0.0.1:9" in health["error"]
    events = await reading
    kinds = [doc["event"]["type"] for doc in events]
    assert "error" in kinds
    assert kinds[-1] == "stream_stopped"
    # A good stream clears the error.
    clip = make_clip(30)
    await _start(rig.http, worker.url, go_livepeer_body(rig, "good"))
    assert (await _health(rig.http, worker.url))["status"] == "OK"
    output = asyncio.create_task(rig.read_output("good"))
    await rig.feed("good", clip.segments)
    assert (await output).numbers == list(range(30))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_hundred_start_stop_cycles_leak_no_tasks_sockets_or_memory(
    rig: StreamRig, worker: WorkerServer
) -> None:
    async def cycle(n: int) -> None:
        mid = f"cycle-{n}"
        await _start(rig.http, worker.url, go_livepeer_body(rig, mid))
        async with rig.http.post(
            worker.url + "/stream/stop", headers={"X-Stream-Id": mid}
        ) as response:
            assert response.status == 200
        for suffix in ("", "-out", "-control", "-events", "-data"):
            rig.server.close_channel(mid + suffix)

    for n in range(10):  # warm up: connection pools, caches, lazy imports
        await cycle(n)
    await asyncio.sleep(0.2)
    tasks, fds = len(asyncio.all_tasks()), _open_fds()
    # Count what the worker's code allocated and still holds, not the test rig's own
    # bookkeeping (its request log, its trickle server's closed-channel tombstones).
    worker_only = [
        tracemalloc.Filter(True, "*/byoc_lab/worker/*", all_frames=True),
        tracemalloc.Filter(False, "*/tests/*", all_frames=True),
    ]
    tracemalloc.start(10)
    try:
        gc.collect()
        before = tracemalloc.take_snapshot().filter_traces(worker_only)
        for n in range(10, 110):
            await cycle(n)
        await asyncio.sleep(0.2)
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(worker_only)
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(asyncio.all_tasks()) <= tasks
    assert _open_fds() <= fds + 4
    print(f"worker kept {grown:,} bytes after 100 cycles")
    assert grown < 200_000, f"{grown:,} bytes kept after 100 cycles"
    status = worker.core.status()
    assert status["active_streams"] == 0
    assert status["counters"]["streams_started"] == 110
    assert (await _health(rig.http, worker.url))["status"] == "IDLE"
