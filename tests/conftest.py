"""Shared fixtures: paths to the scenario processors and the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROCESSORS = Path(__file__).resolve().parent / "processors"


@pytest.fixture
def scenario() -> Path:
    """Directory holding one small processor file per test scenario."""
    return PROCESSORS


@pytest.fixture
def repo_root() -> Path:
    """The repository's root directory."""
    return ROOT
