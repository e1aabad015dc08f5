"""The same worker API requests sent to pytrickle 0.1.6's StreamServer and to byoc_lab's.

Both workers run green tint; both get the same sequence of requests and must answer
with the same status codes, and byoc_lab's JSON must carry every key pytrickle's
does. The one deliberate difference is checked explicitly: an invalid ``/stream/params``
body is a client error, 400 in byoc_lab, where pytrickle answers 500.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from peers.harness import peer_command

from byoc_lab import GreenTint
from byoc_lab.worker import WorkerConfig, WorkerServer

from .conftest import ServedTrickle

pytestmark = pytest.mark.interop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def pytrickle_worker(pytrickle: Path) -> AsyncIterator[str]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        *peer_command("pytrickle_worker.py", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                try:
                    async with http.get(url + "/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        async with asyncio.timeout(20):
            await proc.wait()


@pytest.fixture
async def byoc_worker() -> AsyncIterator[str]:
    server = WorkerServer(GreenTint(), WorkerConfig(capability="green-tint-cpu"))
    await server.start(port=0)
    await server.core.wait_initialized()
    try:
        yield server.url
    finally:
        await server.stop()


async def _exchange(http: aiohttp.ClientSession, base: str, step: tuple[Any, ...]) -> Any:
    method, path, body = step
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    async with http.request(method, base + path, **kwargs) as response:
        payload = await response.json(content_type=None)
        return response.status, payload


BAD_PARAMS = 10


def _steps(trickle: str, stream_id: str) -> list[tuple[Any, ...]]:
    start = {
        "gateway_request_id": stream_id,
        "subscribe_url": f"{trickle}/{stream_id}",
        "publish_url": f"{trickle}/{stream_id}-out",
        "control_url": f"{trickle}/{stream_id}-control",
        "events_url": f"{trickle}/{stream_id}-events",
        "params": {"width": 512, "height": 512},
    }
    return [
        ("GET", "/health", None),
        ("GET", "/version", None),
        ("GET", "/stream/status", None),
        ("POST", "/stream/stop", {}),
        ("POST", "/stream/params", {"boost": 10}),
        ("POST", "/stream/start", {"params": {}}),
        ("POST", "/stream/start", start),
        ("GET", "/health", None),
        ("GET", "/stream/status", None),
        ("POST", "/stream/params", {"boost": 10}),
        ("POST", "/stream/params", {"width": 256}),  # BAD_PARAMS: width without height
        ("POST", "/stream/stop", {}),
        ("POST", "/stream/stop", {}),
        ("GET", "/health", None),
    ]


def _keys(value: Any) -> set[str]:
    return set(value) if isinstance(value, dict) else set()


async def test_same_requests_same_status_codes_and_keys(
    pytrickle_worker: str, byoc_worker: str, trickle_server: ServedTrickle
) -> None:
    async with aiohttp.ClientSession() as http:
        theirs = [
            await _exchange(http, pytrickle_worker, step)
            for step in _steps(trickle_server.base_url, "pt-stream")
        ]
        ours = [
            await _exchange(http, byoc_worker, step)
            for step in _steps(trickle_server.base_url, "bl-stream")
        ]
    steps = _steps(trickle_server.base_url, "x")
    for n, (step, (their_status, their_json), (our_status, our_json)) in enumerate(
        zip(steps, theirs, ours, strict=True)
    ):
        missing = _keys(their_json) - _keys(our_json)
        assert not missing, (step[:2], missing)
        if n == BAD_PARAMS:
            continue
        assert our_status == their_status, (step[:2], their_json, our_json)
    statuses = [s for s, _ in ours]
    assert statuses == [200, 200, 200, 400, 400, 400, 200, 200, 200, 200, 400, 200, 400, 200]
    assert ours[0][1] == {"status": "IDLE"}
    assert ours[7][1]["status"] == theirs[7][1]["status"] == "OK"
    assert ours[6][1]["request_id"] == "bl-stream"
    assert ours[8][1]["current_params"]["gateway_request_id"] == "bl-stream"
    # The deliberate difference: a bad params body is the client's error.
    assert theirs[BAD_PARAMS][0] == 500
    assert ours[BAD_PARAMS][0] == 400
    assert "width and height must be given together" in ours[BAD_PARAMS][1]["message"]
