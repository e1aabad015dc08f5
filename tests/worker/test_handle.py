"""``Worker`` in a kernel-like setting: sync calls, a blocking client in the same process."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import byoc_lab
from byoc_lab import GreenTint, RuntimeStateError

ROOT = Path(__file__).resolve().parents[2]


def _post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/octet-stream"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: bytes = response.read()
        return data


def test_start_returns_at_once_and_a_blocking_client_in_the_same_process_works() -> None:
    worker = byoc_lab.Worker(f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor")
    started = worker.start(port=0)
    try:
        assert started is worker
        assert worker.url.startswith("http://127.0.0.1:")
        assert worker.port > 0
        assert worker.wait_ready() == "IDLE"
        # The quickstart's client: a blocking POST from the thread that owns the worker.
        body = _post(worker.url + "/", bytes(640 * 480 * 3))
        assert len(body) == 921_600
        assert sum(body[1::3]) == 24_576_000
        assert threading.current_thread() is threading.main_thread()
        status = worker.status()
        assert status["status"] == "IDLE"
        assert status["counters"]["batch_jobs"] == 1
        assert "GreenTintProcessor" in repr(worker)
    finally:
        worker.stop()
    assert not worker.running
    with pytest.raises(urllib.error.URLError):
        _post(f"http://127.0.0.1:{worker.port}/", bytes(3))
    worker.stop()  # idempotent


def test_context_manager_and_swap() -> None:
    with byoc_lab.Worker(GreenTint(boost=5), frame_size=(1, 1)) as worker:
        worker.wait_ready()
        assert list(_post(worker.url + "/", bytes(3))) == [0, 5, 0]
        assert worker.swap(GreenTint(boost=9)) == {"boost": 5}
        assert list(_post(worker.url + "/", bytes(3))) == [0, 5, 0]
        worker.processor.boost = 9
        assert list(_post(worker.url + "/", bytes(3))) == [0, 9, 0]
    assert not worker.running


async def test_async_twins_from_a_running_loop() -> None:
    worker = await byoc_lab.Worker(GreenTint(), frame_size=(1, 1)).astart()
    try:
        status = await worker.astatus()
        assert status["active_streams"] == 0
    finally:
        await worker.astop()
    assert not worker.running


def test_url_of_a_stopped_worker_says_what_to_do() -> None:
    worker = byoc_lab.Worker(GreenTint())
    with pytest.raises(RuntimeStateError, match="call start"):
        _ = worker.url


def test_two_workers_on_one_port_fail_clearly() -> None:
    with byoc_lab.Worker(GreenTint()) as first:
        second = byoc_lab.Worker(GreenTint())
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            second.start(port=first.port)
        assert json.loads(json.dumps(first.status()))["status"] in ("IDLE", "LOADING")
