"""`make lab` serves JupyterLab on 127.0.0.1, rooted at notebooks/ (the README's command)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_serves_jupyterlab_on_the_tutorials(repo_root: Path) -> None:
    port, token = _free_port(), secrets.token_hex(8)
    proc = subprocess.Popen(
        [
            "make",
            "-s",
            "lab",
            f"LAB_PORT={port}",
            f"LAB_ARGS=--no-browser --IdentityProvider.token={token}",
        ],
        cwd=repo_root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        status, body = 0, ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                assert proc.stderr is not None
                pytest.fail(f"make lab exited early: {proc.stderr.read().decode()[-2000:]}")
            try:
                status, body = _get(f"{base}/lab?token={token}")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200
        assert "JupyterLab" in body
        status, listing = _get(f"{base}/api/contents?token={token}")
        assert status == 200
        served = {item["name"] for item in json.loads(listing)["content"]}
        on_disk = {
            p.name for p in (repo_root / "notebooks").iterdir() if not p.name.startswith(".")
        }
        assert served == on_disk
        status, _ = _get(f"{base}/api/contents")
        assert status == 403  # the token is required
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
