"""Fixtures for browser tests: one JupyterLab and one Chromium per package, a page per test.

Chromium is Debian's system build (``make sysdeps`` installs it; never a downloaded
browser), driven by Playwright with a fake camera. Without it a developer's run skips
this directory with the reason; under ``CI`` a missing Chromium fails. Screenshots go
to ``build/browser-screenshots/`` (printed at the end of the run); a failing test also
leaves ``FAILED-<test>.png`` there.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Playwright, sync_playwright

from .chromium import CHROMIUM, VIEWPORT, chromium_problem, launched_chromium
from .jupyter import JupyterLab, running_jupyterlab
from .page import LabPage

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "browser-screenshots"

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
SHOTS_USED = pytest.StashKey[Path]()


def require_chromium() -> Path:
    """Debian's Chromium; else skip (a developer's run) or fail (under ``CI``), saying why."""
    problem = chromium_problem()
    if problem is None:
        return CHROMIUM
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
    require_chromium()
    with launched_chromium(playwright) as chromium:
        yield chromium


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
