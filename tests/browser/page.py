"""Driving a JupyterLab notebook in Chromium: open, run, wait, read pixels, move controls.

:class:`LabPage` wraps one Playwright page on a :class:`~.jupyter.JupyterLab`. Every
wait is bounded and fails with an :class:`AssertionError` that says what was awaited,
what was last seen, and the page's console errors. Pixels are read in the page (see
:mod:`.pixels`), so they are what the user sees, not what the kernel sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from playwright.sync_api import ConsoleMessage, Error, Locator, Page

from .jupyter import JupyterLab
from .pixels import WHOLE, Pixels, Region, read_pixels, read_rgb

T = TypeVar("T")

NOTEBOOK_READY = """(path) => {
  const widget = window.jupyterapp?.shell?.currentWidget;
  return !!(widget?.context?.path === path && widget.content?.widgets?.length
    && widget.sessionContext?.session?.kernel);
}"""

KERNEL_IDLE = """() => {
  const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
  return kernel?.status === 'idle' && kernel?.connectionStatus === 'connected';
}"""

RUN_ALL = """async (ms) => {
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
  const run = window.jupyterapp.commands.execute('notebook:run-all-cells');
  return await Promise.race([run, timeout]);
}"""

CELL_ERRORS = """() => {
  const errors = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    for (const out of cell.model.outputs.toJSON()) {
      if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      if (out.output_type === 'stream' && out.name === 'stderr') {
        errors.push(`cell ${i} stderr: ${String(out.text).slice(-500)}`);
      }
    }
  });
  return errors;
}"""

EXECUTE = """async ([code, ms]) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({ code, stop_on_error: true, store_history: false });
  let out = '';
  let error = null;
  future.onIOPub = (msg) => {
    const kind = msg.header.msg_type;
    if (kind === 'stream') out += msg.content.text;
    else if (kind === 'execute_result') out += msg.content.data['text/plain'] ?? '';
    else if (kind === 'error') error = `${msg.content.ename}: ${msg.content.evalue}`;
  };
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
  const done = await Promise.race([future.done.then(() => 'done'), timeout]);
  return { done, out, error };
}"""

CELL_TEXT = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const parts = [];
  for (const out of cell.model.outputs.toJSON()) {
    if (out.output_type === 'stream') parts.push(String(out.text));
    else if (out.data && out.data['text/plain']) parts.push(String(out.data['text/plain']));
  }
  return parts.join('');
}"""


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.1,
) -> T:
    """Call ``probe`` until it returns something other than None/False; return that.

    Raises:
        AssertionError: nothing within ``timeout`` seconds; names ``what`` (a callable
            is asked at that moment, so it can show the latest state) and the last
            exception ``probe`` raised, if any.
    """
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            value = probe()
        except (Error, AssertionError, ValueError) as exc:
            value, last_error = None, f"; last error: {str(exc).splitlines()[0]}"
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            described = _describe(what)
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {described}{last_error}"
            )
        time.sleep(interval)


def _describe(what: str | Callable[[], str]) -> str:
    if not callable(what):
        return what
    try:
        return what()
    except (Error, AssertionError, ValueError) as exc:  # e.g. the page has crashed
        return f"(no description: {str(exc).splitlines()[0]})"


class LabPage:
    """One notebook open in JupyterLab in one Playwright page."""

    def __init__(self, page: Page, lab: JupyterLab, screenshots: Path) -> None:
        self.page = page
        self.lab = lab
        self.screenshots = screenshots
        self.console: list[str] = []  # console errors/warnings, uncaught page errors
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"console.{message.type}: {message.text[:500]}")

    def context(self) -> str:
        """Console errors and warnings so far, for failure messages."""
        if not self.console:
            return "(no console errors)"
        return "console:\n  " + "\n  ".join(self.console[-15:])

    # -- notebook ---------------------------------------------------------------------

    def open_notebook(self, name: str, *, timeout: float = 60.0) -> None:
        """Open ``root/name`` in Lab, wait for its kernel to be idle, fold the side bar."""
        self.page.goto(self.lab.url(f"lab/tree/{name}"), wait_until="domcontentloaded")
        try:
            self.page.wait_for_function(NOTEBOOK_READY, arg=name, timeout=timeout * 1000)
        except Error as exc:
            raise AssertionError(
                f"notebook {name} did not open with a kernel in {timeout:.0f} s: "
                f"{str(exc).splitlines()[0]}\n{self.context()}"
            ) from exc
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        self.wait_kernel_idle(timeout=timeout)

    def wait_kernel_idle(self, *, timeout: float = 60.0) -> None:
        """Wait until the notebook's kernel is connected and idle."""
        try:
            self.page.wait_for_function(KERNEL_IDLE, timeout=timeout * 1000, polling=100)
        except Error as exc:
            raise AssertionError(
                f"the kernel was not idle within {timeout:.0f} s\n{self.context()}\n"
                f"server log:\n{self.lab.log_tail(2000)}"
            ) from exc

    def run_all(self, *, timeout: float = 90.0) -> None:
        """Run every cell (``notebook:run-all-cells``) and wait until the kernel is idle.

        Raises:
            AssertionError: a cell raised, or the run did not finish within ``timeout``;
                the message lists error outputs and stderr of every cell.
        """
        result = self.page.evaluate(RUN_ALL, timeout * 1000)
        if result is not True:
            errors = "\n  ".join(self.cell_errors()) or "(no error output)"
            outcome = "timed out" if result == "timeout" else f"returned {result!r}"
            raise AssertionError(
                f"run all cells {outcome} (timeout {timeout:.0f} s); cell errors:\n  {errors}\n"
                f"{self.context()}"
            )
        self.wait_kernel_idle(timeout=timeout)

    def cell_errors(self) -> list[str]:
        """``cell N: Name: message`` for each error output, and each cell's stderr."""
        errors: list[str] = self.page.evaluate(CELL_ERRORS)
        return errors

    def cell_text(self, index: int) -> str:
        """The stream and ``text/plain`` outputs of code cell ``index``, concatenated."""
        text: str = self.page.evaluate(CELL_TEXT, index)
        return text

    def execute(self, code: str, *, timeout: float = 30.0) -> str:
        """Run ``code`` in the notebook's kernel (not as a cell); return its printed output.

        For checking or nudging kernel-side state from a test (``engine.stats()``, a
        parameter change). Raises AssertionError when the code raises or times out.
        """
        result: dict[str, Any] = self.page.evaluate(EXECUTE, [code, timeout * 1000])
        if result["done"] != "done":
            raise AssertionError(f"kernel code did not finish in {timeout:.0f} s: {code!r}")
        if result["error"] is not None:
            raise AssertionError(f"kernel code raised {result['error']}: {code!r}")
        output: str = result["out"]
        return output

    # -- elements ---------------------------------------------------------------------

    def locate(self, target: str | Locator) -> Locator:
        """A locator for a CSS selector (or the locator itself)."""
        return self.page.locator(target) if isinstance(target, str) else target

    def wait_for(self, target: str | Locator, *, timeout: float = 30.0) -> Locator:
        """Wait for one visible element matching ``target``; return its locator."""
        locator = self.locate(target)
        try:
            locator.first.wait_for(state="visible", timeout=timeout * 1000)
        except Error as exc:
            errors = "\n  ".join(self.cell_errors()) or "(none)"
            raise AssertionError(
                f"{target} did not appear within {timeout:.0f} s; cell errors:\n  {errors}\n"
                f"{self.context()}"
            ) from exc
        return locator

    def pixels(self, target: str | Locator, region: Region = WHOLE) -> Pixels:
        """Per-channel mean and std of what one img/canvas/video shows (within ``region``)."""
        return read_pixels(self.locate(target), region)

    def rgb(self, *selectors: str) -> list[npt.NDArray[np.uint8]]:
        """``HxWx3`` RGB arrays of one element per selector, all read at the same moment."""
        return read_rgb(self.page, selectors)

    def wait_for_pixels(
        self,
        target: str | Locator,
        accept: Callable[[Pixels], bool],
        *,
        timeout: float = 20.0,
        what: str,
        region: Region = WHOLE,
    ) -> Pixels:
        """Poll :meth:`pixels` until ``accept`` holds; the message shows the last reading."""
        seen: list[Pixels] = []

        def probe() -> Pixels | None:
            current = self.pixels(target, region)
            seen.append(current)
            return current if accept(current) else None

        try:
            return wait_until(probe, timeout=timeout, what=what)
        except AssertionError as exc:
            last = seen[-1] if seen else "nothing readable"
            raise AssertionError(f"{exc}; last pixels: {last}\n{self.context()}") from None

    def int_attribute(self, target: str | Locator, name: str) -> int | None:
        """An integer attribute (e.g. ``data-seq``) of the first match, or None if unset."""
        value = self.locate(target).first.get_attribute(name)
        return int(value) if value not in (None, "") else None

    def click_button(self, text: str, *, within: str | Locator | None = None) -> None:
        """Click the one ``<button>`` whose text is ``text`` (exact, whitespace-trimmed).

        Matches the text content, so an icon (Font Awesome draws it with CSS, which
        Chromium counts in the accessible name) does not get in the way.
        """
        scope = self.locate(within) if within is not None else self.page.locator("body")
        exact = re.compile(rf"^\s*{re.escape(text)}\s*$")
        scope.locator("button", has_text=exact).click()

    # -- ipywidgets sliders -----------------------------------------------------------

    def set_slider(self, slider: str | Locator, value: float) -> None:
        """Type ``value`` into an ipywidgets slider's readout and press Enter."""
        readout = self.locate(slider).locator(".widget-readout")
        readout.fill(str(value))
        readout.press("Enter")

    def press_slider(self, slider: str | Locator, key: str, times: int = 1) -> None:
        """Focus the slider's noUiSlider handle and press ``key`` (e.g. ``ArrowRight``)."""
        handle = self.locate(slider).locator(".noUi-handle")
        handle.focus()
        for _ in range(times):
            handle.press(key)

    def slider_readout(self, slider: str | Locator) -> str:
        """The text the slider's readout shows."""
        return self.locate(slider).locator(".widget-readout").inner_text().strip()

    # -- artefacts --------------------------------------------------------------------

    def screenshot(self, name: str, target: str | Locator | None = None) -> Path:
        """Save a PNG of ``target`` (or the whole page) as ``screenshots/name.png``."""
        path = self.screenshots / f"{name}.png"
        if target is None:
            self.page.screenshot(path=path)
        else:
            self.locate(target).first.screenshot(path=path)
        return path
