"""Exported contexts, and a fresh venv that stands in for the image (no Docker engine here).

``green_context`` / ``pytrickle_context``: the quickstart processor exported as the
golden contexts are, once per session. ``container_venv``: a new ``python -m venv``
that gets exactly the context's ``requirements.txt`` and wheel, as the Dockerfile
installs them (once per session: pip is the slow part). :func:`dockerfile` parses a
Dockerfile with dockerfile-parse.

Time limits per test come from tests/conftest.py (``TIME_LIMITS``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from byoc_lab.export.api import ExportResult

from .golden import export_quickstart

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "processors"


def dockerfile(path: Path) -> DockerfileParser:
    """``path``'s Dockerfile, parsed."""
    return DockerfileParser(str(path / "Dockerfile"))


def instructions(parsed: DockerfileParser, name: str) -> list[str]:
    """The values of every ``name`` instruction, in order."""
    return [item["value"] for item in parsed.structure if item["instruction"] == name]


def exec_form(parsed: DockerfileParser, name: str) -> list[str]:
    """The last ``name`` instruction (ENTRYPOINT, CMD) in exec form, as a list."""
    value = instructions(parsed, name)[-1]
    argv = json.loads(value)
    assert isinstance(argv, list)
    return [str(arg) for arg in argv]


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _need(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode == 0:
        return
    reason = f"{what} failed (exit {result.returncode}): {result.stderr[-1500:]}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def green_context(tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """The quickstart processor exported for the byoc_lab target (the golden context)."""
    return export_quickstart(tmp_path_factory.mktemp("export") / "green-tint", "byoc_lab")


@pytest.fixture(scope="session")
def pytrickle_context(tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """The quickstart processor exported for the pytrickle target."""
    dest = tmp_path_factory.mktemp("export") / "green-tint-pytrickle"
    return export_quickstart(dest, "pytrickle")


@pytest.fixture(scope="session")
def container_venv(green_context: ExportResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding exactly what the image installs: requirements, then the wheel.

    Returns the venv's ``bin`` directory. PyPI (or the pip cache) provides the pins.
    """
    venv = tmp_path_factory.mktemp("container") / "venv"
    _need(
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ),
        "python -m venv",
    )
    python = str(venv / "bin" / "python")
    context = green_context.path
    for args in (
        ["-r", str(context / "requirements.txt")],
        ["--no-deps", str(context / green_context.spec.wheel)],
    ):
        _need(
            subprocess.run(
                [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            ),
            f"pip install {' '.join(args)}",
        )
    return venv / "bin"


def container_env(parsed: DockerfileParser, bin_dir: Path, **extra: str) -> dict[str, str]:
    """The process environment of the container: the Dockerfile's ENV on a bare base."""
    env: dict[str, Any] = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }
    env.update(parsed.envs)
    env.update(extra)
    return {key: str(value) for key, value in env.items()}
