"""Shared fixtures and the time limits every test runs under.

A bug must show up as a failure, never as a hang. Every coroutine test runs under
``asyncio.timeout`` (the soft limit of its directory), and because a loop that never
yields cannot be cancelled, a watchdog thread dumps every stack and ends the run when
a test's set-up, call and tear-down together pass the hard limit.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import inspect
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from _pytest.faulthandler import fault_handler_stderr_fd_key  # pytest's uncaptured stderr

ROOT = Path(__file__).resolve().parent.parent
PROCESSORS = Path(__file__).resolve().parent / "processors"
HERE = Path(__file__).resolve().parent

TIME_LIMITS: dict[str, tuple[float, float]] = {
    # directory: (seconds for a coroutine test, seconds before the watchdog ends the run)
    "trickle": (10.0, 30.0),
    "network": (15.0, 40.0),
    "client": (20.0, 45.0),
    "worker": (30.0, 60.0),
    "interop": (120.0, 300.0),
    "export": (90.0, 300.0),  # the first test also builds the container-equivalent venv
    "preview": (20.0, 60.0),
    "workbench": (60.0, 120.0),
    "widgets": (30.0, 90.0),
    "browser": (120.0, 300.0),  # starts JupyterLab and Chromium
    "reliability": (60.0, 180.0),  # faults, bad input and load (issue 10)
}
DEFAULT_LIMITS = (30.0, 120.0)


def _limits(item: pytest.Item) -> tuple[float, float]:
    try:
        top = item.path.relative_to(HERE).parts[0]
    except (ValueError, IndexError):
        return DEFAULT_LIMITS
    return TIME_LIMITS.get(top, DEFAULT_LIMITS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Watchdog: set-up, call and tear-down together within the hard limit."""
    stderr_fd = item.config.stash.get(fault_handler_stderr_fd_key, 2)
    faulthandler.dump_traceback_later(_limits(item)[1], exit=True, file=stderr_fd)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run every coroutine test under ``asyncio.timeout`` (its directory's soft limit)."""
    original = getattr(item, "obj", None)
    if original is None or not inspect.iscoroutinefunction(original):
        return (yield)
    soft = _limits(item)[0]

    @functools.wraps(original)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        async with asyncio.timeout(soft):
            return await original(*args, **kwargs)

    item.obj = bounded  # type: ignore[attr-defined]
    try:
        return (yield)
    finally:
        item.obj = original  # type: ignore[attr-defined]


@pytest.fixture
def scenario() -> Path:
    """Directory holding one small processor file per test scenario."""
    return PROCESSORS


@pytest.fixture
def repo_root() -> Path:
    """The repository's root directory."""
    return ROOT
