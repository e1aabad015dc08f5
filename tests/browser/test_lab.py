"""The whole ``Lab`` in a real browser: preview, slider, Apply, errors, jobs, browser camera.

``lab = byoc_lab.Lab(byoc_lab.GreenTint())`` is displayed by a bare ``lab`` in a cell
and driven only through the page: the boost slider is moved in the DOM, code is typed
into the editor and applied with its button, the service is started and a job sent
from the tabs, and the browser camera is picked in the source dropdown. Pixels are
read from the page's canvases and ``<img>``; the kernel's state is read back with
:meth:`LabPage.execute` to check the widgets tell the truth about the core. Each
step leaves a screenshot of the whole Lab (``lab-*.png``); each test closes its Lab.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from playwright.sync_api import ViewportSize

from byoc_lab.frames import decode_image

from .jupyter import write_notebook
from .page import LabPage, wait_until

pytestmark = pytest.mark.browser

LAB_CELL = """\
import byoc_lab

lab = byoc_lab.Lab(byoc_lab.GreenTint())
lab
"""

LAB = ".byoc-lab"
VIEW = f"{LAB} .byoc-preview .byoc-frame-view"
INPUT = f"{VIEW} .byoc-frame-input canvas"
OUTPUT = f"{VIEW} .byoc-frame-output canvas"
SLIDER = f"{LAB} .byoc-param-boost"
EDITOR = f"{LAB} .byoc-editor"
STATS = f"{LAB} .byoc-preview-stats"
JOB_RESULT = f"{LAB} img.byoc-jobs-result"

# Mean absolute error per channel (levels of 255) between what a canvas shows and the
# picture expected from the other canvas. Both went through JPEG q80; measured errors
# are below 1.2 (the bars' sharp edges, the burned-in frame number), while a wrong
# effect (boost 0 instead of 80, tint instead of inversion) costs tens of levels.
JPEG_TOLERANCE = 3.0

INVERT = """\
from byoc_lab import FrameProcessor


class Invert(FrameProcessor):
    def process(self, frame):
        return 255 - frame
"""

SYNTAX_ERROR_LINE = 6
SYNTAX_ERROR = """\
from byoc_lab import FrameProcessor


class Broken(FrameProcessor):
    def process(self, frame):
        return 255 - (frame
"""

RUNTIME_ERROR_LINE = 7
RUNTIME_ERROR = """\
from byoc_lab import FrameProcessor


class Crashes(FrameProcessor):
    def process(self, frame):
        height = frame.shape[0]
        raise ValueError(f"broken on purpose at height {height}")
"""

# Tall enough for the whole Lab with a job's result, so screenshots show all of it.
TALL: ViewportSize = {"width": 1280, "height": 1500}

Picture = npt.NDArray[np.uint8]
Expect = Callable[[Picture], Picture]


def tinted(boost: int) -> Expect:
    """GreenTint(boost) as the expected output of an input picture."""

    def expect(frame: Picture) -> Picture:
        out = frame.astype(np.int16)
        out[..., 1] = np.minimum(out[..., 1] + boost, 255)
        return out.astype(np.uint8)

    return expect


def inverted(frame: Picture) -> Picture:
    """Invert's expected output."""
    return 255 - frame


def mean_error(shown: Picture, expected: Picture) -> tuple[float, float, float]:
    """Mean absolute error per channel of ``shown`` against ``expected``."""
    error = np.abs(shown.astype(np.int16) - expected.astype(np.int16)).reshape(-1, 3)
    r, g, b = error.mean(axis=0)
    return float(r), float(g), float(b)


def seq(page: LabPage) -> int:
    """The last frame the preview's view drew (0 before the first)."""
    return page.int_attribute(VIEW, "data-seq") or 0


def wait_shows(page: LabPage, expect: Expect, what: str, *, timeout: float = 15.0) -> None:
    """Wait until the output canvas shows ``expect(input)``; the message has the last error."""
    errors: list[tuple[float, float, float]] = []

    def probe() -> tuple[float, float, float] | None:
        frame_in, frame_out = page.rgb(INPUT, OUTPUT)
        errors.append(mean_error(frame_out, expect(frame_in)))
        return errors[-1] if max(errors[-1]) <= JPEG_TOLERANCE else None

    wait_until(
        probe,
        timeout=timeout,
        what=lambda: (
            f"{what} (last mean error per channel: "
            f"{[round(e, 1) for e in errors[-1]] if errors else 'none read'})\n{page.context()}"
        ),
    )


def wait_frames(page: LabPage, count: int, *, timeout: float = 15.0) -> int:
    """Wait until the view has drawn ``count`` more frames; return the new ``data-seq``."""
    start = seq(page)
    return wait_until(
        lambda: seq(page) if seq(page) >= start + count else None,
        timeout=timeout,
        what=lambda: f"{count} more frames after seq {start} (data-seq now {seq(page)})",
    )


def wait_params(page: LabPage, expected: str) -> None:
    """Wait until the kernel's ``lab.workbench.params()`` has the ``repr`` ``expected``."""
    seen: list[str] = []

    def probe() -> bool:
        seen.append(kernel_value(page, "lab.workbench.params()"))
        return seen[-1] == expected

    wait_until(
        probe,
        timeout=10,
        what=lambda: f"lab.workbench.params() == {expected} (last: {seen[-1:]})",
    )


def kernel_value(page: LabPage, expression: str) -> str:
    """``repr`` of a Python expression evaluated in the notebook's kernel."""
    return page.execute(f"print(repr({expression}))").strip()


def open_lab(page: LabPage, name: str) -> None:
    """Write and run a notebook whose one cell displays a GreenTint Lab; wait for frames."""
    write_notebook(page.lab.root / name, [LAB_CELL])
    page.open_notebook(name)
    page.run_all()
    page.wait_for(VIEW)
    wait_until(lambda: seq(page) or None, timeout=30, what="the preview's first frame drawn")


def screenshot_lab(page: LabPage, name: str) -> None:
    """A PNG of the whole Lab widget, scrolled into view first."""
    page.locate(LAB).scroll_into_view_if_needed()
    page.screenshot(name, LAB)


def error_text(page: LabPage) -> str | None:
    """The editor's error message box text, or None while it is hidden or empty."""
    box = page.locate(f"{EDITOR} .byoc-editor-error")
    if not box.is_visible():
        return None
    return box.inner_text().strip() or None


def apply_code(page: LabPage, code: str) -> None:
    """Type ``code`` into the editor and click Apply; wait until the kernel answered."""
    page.locate(f"{EDITOR} textarea").fill(code)
    apply = page.locate(f"{EDITOR} .byoc-editor-apply")
    apply.click()
    wait_until(
        lambda: apply.is_enabled() or None,
        timeout=30,
        what="the Apply button enabled again (the kernel's answer)",
    )


SENT_PNG = (
    "import base64\n"
    "from byoc_lab.frames import encode_image\n"
    "print(base64.b64encode(encode_image(lab.jobs_panel.outcome.input, 'png')).decode())"
)


def send_job(page: LabPage, expect: Expect, what: str) -> tuple[float, float, float]:
    """Click the Jobs tab and "Send frame job"; the result must be ``expect(sent frame)``.

    Waits for the kernel's next job outcome, then for the page to show HTTP 200 and a
    result image within JPEG error of ``expect`` applied to the frame that was sent
    (read back from the kernel). Returns that error.
    """
    page.page.locator(f"{LAB} .byoc-lab-tabs .lm-TabBar-tab", has_text="Jobs").click()
    page.wait_for(f"{LAB} .byoc-jobs-send")
    page.execute("_job_before = lab.jobs_panel.outcome")
    page.locate(f"{LAB} .byoc-jobs-send").click()
    message = page.locate(f"{LAB} .byoc-jobs-message")
    wait_until(
        lambda: kernel_value(page, "lab.jobs_panel.outcome is not _job_before") == "True",
        timeout=30,
        what=lambda: f"a job outcome in the kernel (message: {message.inner_text()!r})",
    )
    status = page.locate(f"{LAB} .byoc-jobs-status")
    wait_until(
        lambda: status.inner_text().strip() == "HTTP 200",
        timeout=10,
        what=lambda: (
            f"HTTP 200 shown (status {status.inner_text()!r}, message {message.inner_text()!r})"
        ),
    )
    sent = decode_image(base64.b64decode(page.execute(SENT_PNG).strip()))
    errors: list[tuple[float, float, float]] = []

    def probe() -> tuple[float, float, float] | None:
        (shown,) = page.rgb(JOB_RESULT)
        errors.append(mean_error(shown, expect(sent)))
        return errors[-1] if max(errors[-1]) <= JPEG_TOLERANCE else None

    return wait_until(
        probe,
        timeout=10,
        what=lambda: (
            f"{what} (last mean error per channel: "
            f"{[round(e, 1) for e in errors[-1]] if errors else 'none read'})"
        ),
    )


def check_preview(page: LabPage) -> None:
    """Previewing at once on the synthetic source auto() picked; frames keep changing."""
    source = kernel_value(page, "lab.workbench.preview.source.describe()")
    assert "synthetic" in source, f"auto() picked {source} on a machine without a camera"
    wait_shows(page, tinted(80), "GreenTint(80) on the output")
    first_in, _ = page.rgb(INPUT, OUTPUT)
    wait_frames(page, 10)
    later_in, _ = page.rgb(INPUT, OUTPUT)
    assert not np.array_equal(first_in, later_in), "10 frames later the input is the same"
    screenshot_lab(page, "lab-preview")


def check_slider(page: LabPage) -> None:
    """The boost slider moved in the DOM reaches the output pixels and the kernel."""
    page.set_slider(SLIDER, 0)  # typed into the readout: an exact value
    wait_shows(page, tinted(0), "output = input after typing boost 0")
    wait_params(page, "{'boost': 0}")
    page.set_slider(SLIDER, 200)
    wait_shows(page, tinted(200), "GreenTint(200) after typing boost 200")
    page.press_slider(SLIDER, "ArrowLeft", times=5)  # keyboard on the handle: 199 .. 195
    wait_until(
        lambda: page.slider_readout(SLIDER) == "195",
        timeout=10,
        what=lambda: f"the readout at 195 (shows {page.slider_readout(SLIDER)!r})",
    )
    wait_params(page, "{'boost': 195}")
    wait_shows(page, tinted(195), "GreenTint(195) after 5 x ArrowLeft")
    screenshot_lab(page, "lab-slider")


def check_serve_and_job(page: LabPage) -> None:
    """Start in the Serve tab; a job sent from the Jobs tab comes back tinted (boost 195)."""
    page.locate(f"{LAB} .byoc-serve-start").click()
    badge = page.locate(f"{LAB} .byoc-health")
    wait_until(
        lambda: badge.inner_text().strip() in ("OK", "IDLE"),
        timeout=60,
        what=lambda: (
            f"the health badge at OK or IDLE (shows {badge.inner_text().strip()!r}; "
            f"message: {page.locate(f'{LAB} .byoc-serve-message').inner_text()!r})"
        ),
    )
    urls = page.locate(f"{LAB} .byoc-serve-urls").inner_text()
    gateway = kernel_value(page, "lab.workbench.network.gateway_url").strip("'")
    assert gateway in urls, f"the kernel's gateway {gateway} is not among the URLs: {urls!r}"
    screenshot_lab(page, "lab-serve")
    send_job(page, tinted(195), "the job's result tinted by GreenTint(195)")
    screenshot_lab(page, "lab-job")


def check_apply(page: LabPage) -> None:
    """Code typed into the editor and applied: the preview and the worker invert."""
    apply_code(page, INVERT)
    wait_shows(page, inverted, "inverted output after applying Invert")
    status = page.locate(f"{EDITOR} .byoc-editor-status").inner_text()
    assert "Applied Invert" in status, f"editor status: {status!r}"
    assert "worker" in status, f"applied without the worker: {status!r}"
    assert kernel_value(page, "type(lab.workbench.processor).__name__") == "'Invert'"
    screenshot_lab(page, "lab-apply")
    send_job(page, inverted, "the job's result inverted by the worker after Apply")


def check_bad_code(page: LabPage, code: str, line: int, words: str) -> None:
    """Bad code: its line and ``words`` are shown; the inverted output keeps coming."""
    apply_code(page, code)
    message = wait_until(
        lambda: error_text(page),
        timeout=10,
        what=lambda: f"the editor's error message ({page.context()})",
    )
    assert re.search(rf"\bline {line}\b", message), f"error shown: {message!r}"
    assert not message.startswith(f"line {line}: "), f"the line is prefixed again: {message!r}"
    assert words in message, f"error shown without {words!r}: {message!r}"
    gutter = page.locate(f"{EDITOR} .byoc-editor-error-line").inner_text().strip()
    assert gutter == str(line), f"the gutter marks line {gutter}, not {line}"
    status = page.locate(f"{EDITOR} .byoc-editor-status").inner_text()
    assert "previous processor runs" in status, f"editor status: {status!r}"
    wait_frames(page, 10)
    wait_shows(page, inverted, f"still inverted after the error on line {line}")
    assert kernel_value(page, "type(lab.workbench.processor).__name__") == "'Invert'"


def close_lab(page: LabPage) -> None:
    """``lab.close()`` in the kernel: preview and service stopped; no uncaught page errors."""
    print(f"stats line: {page.locate(STATS).inner_text()}")
    page.execute("lab.close()")
    state = kernel_value(page, "(lab.workbench.preview.state.value, lab.workbench.network)")
    assert state == "('stopped', None)", f"after lab.close(): (preview state, network) {state}"
    uncaught = [line for line in page.console if line.startswith("pageerror")]
    assert not uncaught, "uncaught errors in the page:\n  " + "\n  ".join(uncaught)


def test_lab_previews_tunes_serves_applies_and_reports_errors(lab_page: LabPage) -> None:
    lab_page.page.set_viewport_size(TALL)
    open_lab(lab_page, "lab.ipynb")
    check_preview(lab_page)
    check_slider(lab_page)
    check_serve_and_job(lab_page)
    check_apply(lab_page)
    check_bad_code(lab_page, SYNTAX_ERROR, SYNTAX_ERROR_LINE, "syntax error")
    screenshot_lab(lab_page, "lab-error")
    check_bad_code(lab_page, RUNTIME_ERROR, RUNTIME_ERROR_LINE, "broken on purpose")
    close_lab(lab_page)


def test_lab_browser_camera_feeds_the_preview(lab_page: LabPage) -> None:
    lab_page.page.set_viewport_size(TALL)
    open_lab(lab_page, "camera.ipynb")
    wait_shows(lab_page, tinted(80), "GreenTint(80) on the synthetic bars")
    bars, _ = lab_page.rgb(INPUT, OUTPUT)

    lab_page.locate(f"{LAB} .byoc-preview-source select").select_option(label="browser camera")
    camera = lab_page.wait_for(f"{LAB} .byoc-camera[data-state=running]", timeout=30)
    wait_until(
        lambda: kernel_value(lab_page, "lab.workbench.preview.source.name") == "'browser camera'",
        timeout=10,
        what="the preview reading the browser camera",
    )

    def camera_picture() -> Picture | None:
        frame_in, _ = lab_page.rgb(INPUT, OUTPUT)
        return frame_in if max(mean_error(frame_in, bars)) > 30 else None

    first = wait_until(
        camera_picture,
        timeout=20,
        what=lambda: (
            f"the input canvas to show the fake camera, not the bars "
            f"(camera sent {camera.get_attribute('data-sent')} frames)"
        ),
    )
    wait_frames(lab_page, 10)
    later = wait_until(camera_picture, timeout=10, what="the fake camera's next frames")
    assert not np.array_equal(first, later), "the fake camera's picture does not move"
    wait_shows(lab_page, tinted(80), "GreenTint(80) on the fake camera's frames")
    received = kernel_value(lab_page, "lab.workbench.preview.source.received")
    assert int(received) >= 10, f"the kernel's BrowserCameraSource received {received} frames"
    screenshot_lab(lab_page, "lab-camera")
    close_lab(lab_page)
