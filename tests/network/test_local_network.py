"""``LocalNetwork`` as a notebook uses it: sync context manager, blocking clients."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import byoc_lab
from byoc_lab import GreenTint, RuntimeStateError
from byoc_lab.loader import load_processor
from byoc_lab.network import build_job_header

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_quickstart_job_through_gateway_orchestrator_worker_and_the_routing_log() -> None:
    with byoc_lab.LocalNetwork(load_processor(QUICKSTART), capability="green-tint-cpu") as net:
        status, body = _post(
            net.gateway_url + "/live/video-to-video",
            bytes(640 * 480 * 3),
            {"Content-Type": "application/octet-stream", "X-Model-Id": "green-tint-cpu"},
        )
        assert status == 200
        assert len(body) == 921_600
        assert sum(body[1::3]) == 24_576_000
        status, body = _post(
            net.gateway_url + "/process/request/tint",
            bytes(640 * 480 * 3),
            {
                "Content-Type": "application/octet-stream",
                "Livepeer": build_job_header("green-tint-cpu"),
            },
        )
        assert status == 200
        assert sum(body[1::3]) == 24_576_000
        log = "\n".join(net.routing_log())
        ports = [net.gateway_url, net.orchestrator_url, net.worker_url]
        assert net.status()["counters"]["batch_jobs"] == 2
    assert "capability registered" in log
    assert "green-tint-cpu" in log
    assert "forwarded to orchestrator" in log
    assert "forwarded to worker" in log
    assert log.index("capability registered") < log.index("forwarded to worker")
    for url in ports:  # everything stopped: the ports are free again
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a new server would
            s.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))


def test_unknown_capability_is_a_clear_400() -> None:
    with byoc_lab.LocalNetwork(GreenTint(), capability="tint") as net:
        status, body = _post(
            net.gateway_url + "/process/request/x",
            b"",
            {"Livepeer": build_job_header("no-such-thing")},
        )
    assert status == 400
    assert b"no-such-thing" in body


async def test_async_form_and_a_second_start_is_refused() -> None:
    net = byoc_lab.LocalNetwork(GreenTint(), capability="tint", frame_size=(2, 2))
    async with net:
        assert repr(net).startswith("<LocalNetwork 'tint' gateway http://127.0.0.1:")
        assert net.trickle_url.endswith("/ai/trickle")
        with pytest.raises(RuntimeStateError, match="already running"):
            await net.astart()
        assert json.loads(json.dumps(net.status()))["status"] == "IDLE"
    assert not net.running
    with pytest.raises(RuntimeStateError):
        _ = net.gateway_url
