"""The `byoc-lab` command, run as users run it: a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "byoc_lab.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_the_quickstart_processor_prints_a_table(repo_root: Path) -> None:
    result = _run(
        "check",
        "examples/green_tint.py:GreenTintProcessor",
        "--source",
        "synthetic",
        "--frames",
        "5",
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert "GreenTintProcessor (packed RGB bytes in/out, async)" in result.stdout
    assert "5 (5 ok, 0 failed)" in result.stdout
    assert "480x640x3" in result.stdout
    assert "GreenTintProcessor: initialised" in result.stderr


def test_check_with_params_and_size(repo_root: Path) -> None:
    result = _run(
        "check",
        "byoc_lab.builtins:GreenTint",
        "--param",
        "boost=20",
        "--size",
        "320x240",
        "--frames",
        "2",
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert "240x320x3" in result.stdout


def test_failing_frames_exit_1_and_are_listed(scenario: Path) -> None:
    result = _run("check", f"{scenario / 'raises_on_frame.py'}", "--frames", "4", cwd=scenario)
    assert result.returncode == 1
    assert "frame 1: process() raised ValueError: odd frame 1" in result.stdout
    assert "frame 3: process() raised ValueError: odd frame 3" in result.stdout


def test_bad_spec_and_bad_param_exit_2_with_one_clear_line(repo_root: Path) -> None:
    missing = _run("check", "nowhere.py:P", cwd=repo_root)
    assert missing.returncode == 2
    assert "byoc-lab check: error: processor file 'nowhere.py' not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = _run("check", "byoc_lab.builtins:GreenTint", "--param", "boost=999", cwd=repo_root)
    assert bad.returncode == 2
    assert "parameter 'boost' is out of bounds" in bad.stderr


def test_console_script_is_installed(repo_root: Path) -> None:
    exe = Path(sys.executable).with_name("byoc-lab")
    result = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("byoc_lab ")


def test_trickle_command_serves_channels_until_interrupted(repo_root: Path) -> None:
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "byoc_lab.cli", "trickle", "--port", str(port)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                post = urllib.request.Request(
                    f"{base}/demo/0", data=b"hello trickle", method="POST"
                )
                with urllib.request.urlopen(post, timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "trickle server did not start"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/demo/0", timeout=5) as response:
            assert response.read() == b"hello trickle"
            assert response.headers["Lp-Trickle-Seq"] == "0"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert f"trickle server on http://127.0.0.1:{port}/{{channel}}/{{seq}} (auto-create on)" in err
