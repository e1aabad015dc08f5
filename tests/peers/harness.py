"""Locating and running interop peers (pytrickle 0.1.6 in its own venv) from tests.

pytrickle pins ``av==14.2.0`` and pulls torch, so it lives in ``.venv-pytrickle``
(``make peers``) and runs as a separate process. :func:`pytrickle_python` makes sure
that venv exists, creating it with ``make peers`` the first time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent
PEER_PYTHON = ROOT / ".venv-pytrickle" / "bin" / "python"


def pytrickle_python() -> Path:
    """Return the peer venv's python, building the venv if needed.

    When it cannot be built, CI fails (a missing peer must not pass silently) and a
    developer's run skips with the reason printed.
    """
    result = subprocess.run(
        ["make", "-s", "peers"], cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False
    )
    if result.returncode != 0 or not PEER_PYTHON.exists():
        reason = f"cannot build the pytrickle peer venv (make peers): {result.stderr[-1500:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return PEER_PYTHON


def peer_command(script: str, *args: str) -> list[str]:
    """The argv that runs ``tests/peers/{script}`` under the pytrickle venv."""
    return [str(PEER_PYTHON), str(PEERS / script), *args]


def byoc_python() -> str:
    """byoc_lab's own interpreter (the one running the tests)."""
    return sys.executable
