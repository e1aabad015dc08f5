"""A real ``docker build`` and container, where a Docker engine answers.

Marked ``docker``; without an engine (as on these machines) every test here is skipped
with the reason printed (``-ra``).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from byoc_lab.export.api import ExportResult
from byoc_lab.export.build import build_image, docker_engine_problem

from .conftest import free_port

pytestmark = pytest.mark.docker

TAG = "byoc-lab-test/green-tint-cpu:test"


@pytest.fixture(scope="module")
def engine() -> None:
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(f"no Docker engine: {problem}")


@pytest.fixture(scope="module")
def image(engine: None, green_context: ExportResult) -> Iterator[str]:
    lines: list[str] = []
    outcome = build_image(green_context.path, TAG, echo=lines.append)
    assert outcome.built, "\n".join(lines[-40:])
    yield TAG
    subprocess.run(["docker", "image", "rm", "-f", TAG], capture_output=True, check=False)


def _inspect(tag: str) -> dict[str, object]:
    done = subprocess.run(
        ["docker", "image", "inspect", tag], capture_output=True, text=True, check=True
    )
    config: dict[str, object] = json.loads(done.stdout)[0]["Config"]
    return config


def test_image_metadata(image: str) -> None:
    config = _inspect(image)
    assert config["User"] == "10001"
    labels = config["Labels"]
    assert isinstance(labels, dict)
    assert labels["byoc-lab.capability"] == "green-tint-cpu"
    assert json.loads(labels["byoc-lab.params"]) == []
    assert "8000/tcp" in config["ExposedPorts"]  # type: ignore[operator]


def test_container_turns_healthy_and_runs_a_batch_job(image: str, tmp_path: Path) -> None:
    port = free_port()
    started = subprocess.run(
        ["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8000", image],
        capture_output=True,
        text=True,
        check=True,
    )
    container = started.stdout.strip()
    try:
        deadline = time.monotonic() + 90
        status = ""
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["docker", "inspect", "-f", "{{.State.Health.Status}}", container],
                capture_output=True,
                text=True,
                check=False,
            )
            status = state.stdout.strip()
            if status == "healthy":
                break
            time.sleep(1)
        assert status == "healthy"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=bytes(640 * 480 * 3),
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        assert sum(body[1::3]) == 640 * 480 * 80
    finally:
        subprocess.run(["docker", "stop", container], capture_output=True, check=False)
