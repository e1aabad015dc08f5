"""Fixtures for browser tests: one JupyterLab and one Chromium per package, a page per test.

Chromium is Debian's system build (``make sysdeps`` installs it; never a downloaded
browser), driven by Playwright with a fake camera. Without it a developer's run skips
this directory with the reason; under ``CI`` a missing Chromium fails. Screenshots go
to ``build/browser-screenshots/`` (printed at the end of the run); a failing test also
leaves ``FAILED-<test>.png`` there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Playwright, ViewportSize, sync_playwright

from .jupyter import JupyterLab, running_jupyterlab
from .page import LabPage

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "browser-screenshots"
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

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
SHOTS_USED = pytest.StashKey[Path]()


def require_chromium() -> Path:
    """Debian's Chromium; else skip (a developer's run) or fail (under ``CI``), saying why."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    elsewhere = shutil.which("chromium")
    problem = (
        f"browser tests need Debian's Chromium at {CHROMIUM} "
        f"({f'found only {elsewhere}' if elsewhere else 'no chromium on PATH either'}); "
        "install it with `make sysdeps` (apt-get install chromium)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{problem}. CI is set: a missing browser must not pass silently")
    pytest.skip(problem)


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    """Every test here needs Chromium, even one that does not ask for a page."""
    require_chromium()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so a fixture can see that its test failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print where the screenshots went."""
    shots = config.stash.get(SHOTS_USED, None)
    if shots is not None:
        count = len(list(shots.glob("*.png")))
        terminalreporter.write_line(f"browser screenshots ({count} PNG): {shots}")


@pytest.fixture(scope="package")
def screenshot_dir(pytestconfig: pytest.Config) -> Path:
    """``build/browser-screenshots/`` (gitignored), created; its path is printed at the end."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SCREENSHOTS.glob("FAILED-*.png"):  # failures of an earlier run
        stale.unlink()
    pytestconfig.stash[SHOTS_USED] = SCREENSHOTS
    return SCREENSHOTS


@pytest.fixture(scope="package")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab from the venv on 127.0.0.1, token, isolated dirs; stopped at the end."""
    with running_jupyterlab(tmp_path_factory.mktemp("jupyterlab")) as lab:
        yield lab


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync driver (its own event loop; tests here are plain functions)."""
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless system Chromium with the fake camera."""
    chromium = playwright.chromium.launch(
        executable_path=str(require_chromium()), headless=True, args=CHROMIUM_ARGS, timeout=60_000
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def lab_page(
    request: pytest.FixtureRequest,
    browser: Browser,
    jupyterlab: JupyterLab,
    screenshot_dir: Path,
) -> Iterator[LabPage]:
    """A fresh browser context and page on the JupyterLab, camera allowed.

    Afterwards: a failing test leaves ``FAILED-<test>.png``; the page closes and every
    kernel is shut down, so each test starts from a clean server.
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.grant_permissions(["camera"], origin=jupyterlab.base_url)
    context.set_default_timeout(30_000)
    page = LabPage(context.new_page(), jupyterlab, screenshot_dir)
    try:
        yield page
    finally:
        report = request.node.stash.get(REPORTS, {}).get("call")
        if report is not None and report.failed:
            try:
                page.screenshot(f"FAILED-{request.node.name}")
            except Error as exc:  # a crashed page must not hide the test's own failure
                print(f"no failure screenshot: {exc}")
        context.close()
        jupyterlab.shutdown_kernels()
