"""``make demo``: the original quickstart's four terminals, headless, from the README."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART_PORTS = (8000, 8935, 8936)


def _busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_demo_prints_the_quickstart_lines_and_the_routing_path() -> None:
    busy = [p for p in QUICKSTART_PORTS if _busy(p)]
    if busy:
        pytest.skip(f"the quickstart's ports {busy} are in use on this machine")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=ROOT,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Status: 200\nResponse size: 921600 bytes\nGreen channel sum: 24576000" in out
    routing = out[out.index("Routing log:") :]
    # Each service's lines keep their order; lines of one millisecond may interleave.
    for order in (
        [
            "[orchestrator] capability registered",
            "[orchestrator] job received from gateway: green-tint-cpu",
            "[orchestrator] forwarded to worker: POST http://127.0.0.1:8000",
            "[orchestrator] worker response received, returning to gateway: HTTP 200",
        ],
        [
            "[gateway] job received from client: green-tint-cpu",
            "[gateway] forwarded to orchestrator: POST http://127.0.0.1:8936",
            "[gateway] response returned to client: HTTP 200",
        ],
    ):
        positions = [routing.index(step) for step in order]
        assert positions == sorted(positions)
    assert "demo OK" in out


def test_quickstart_send_job_is_verbatim() -> None:
    text = (ROOT / "examples" / "quickstart" / "send_job.py").read_text()
    assert 'GATEWAY_URL = "http://localhost:8935"' in text
    assert 'f"{GATEWAY_URL}/live/video-to-video"' in text
    assert '"X-Model-Id": MODEL_ID' in text
