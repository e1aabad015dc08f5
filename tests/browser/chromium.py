"""Debian's Chromium under Playwright, importable without pytest (tests and benchmarks).

The browser tests' fixtures (``conftest.py``) and the preview benchmark
(``benchmarks/preview.py``) launch the same browser the same way: the system build at
``/usr/bin/chromium`` (``make sysdeps`` installs it; never a downloaded browser),
headless, with a fake camera.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",  # a synthetic camera (moving test pattern)
    "--use-fake-ui-for-media-stream",  # grant getUserMedia without a prompt
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def chromium_problem() -> str | None:
    """Why Debian's Chromium cannot be used (with the fix), or None when it is there."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    elsewhere = shutil.which("chromium")
    return (
        f"browser tests need Debian's Chromium at {CHROMIUM} "
        f"({f'found only {elsewhere}' if elsewhere else 'no chromium on PATH either'}); "
        "install it with `make sysdeps` (apt-get install chromium)"
    )


@contextmanager
def launched_chromium(playwright: Playwright) -> Iterator[Browser]:
    """Headless system Chromium with the fake camera; closed on exit.

    Raises:
        FileNotFoundError: Chromium is missing (the message says how to install it).
    """
    problem = chromium_problem()
    if problem is not None:
        raise FileNotFoundError(problem)
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
    )
    try:
        yield browser
    finally:
        browser.close()
