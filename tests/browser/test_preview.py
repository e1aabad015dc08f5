"""The preview in a real browser: GreenTint on synthetic frames, pixels read from the page.

A ``PreviewPanel`` over a ``PreviewEngine`` plays synthetic colour bars through
``GreenTint``; the FrameView draws input and output JPEGs on two canvases. The test
reads both canvases at the same moment and checks the output is the input with the
green channel boosted (within JPEG error), that frames keep coming (``data-seq``
grows and the pictures change), that a parameter change reaches the pixels, and that
Pause and Play clicked in the page stop and restart the frames.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import pytest

from .jupyter import write_notebook
from .page import LabPage, wait_until

pytestmark = pytest.mark.browser

PREVIEW = """\
from byoc_lab import GreenTint, SyntheticSource
from byoc_lab.preview import PreviewEngine
from byoc_lab.widgets.preview_panel import PreviewPanel

engine = PreviewEngine(GreenTint(), SyntheticSource("bars", fps=30.0), size=(640, 480))
panel = PreviewPanel(engine, autoplay=True)
panel
"""

VIEW = ".byoc-preview .byoc-frame-view"
INPUT = f"{VIEW} .byoc-frame-input canvas"
OUTPUT = f"{VIEW} .byoc-frame-output canvas"
JPEG_TOLERANCE = 4.0  # mean error per channel, levels of 255, of two JPEG q80 encodings


def tint_error(
    frame_in: npt.NDArray[np.uint8], frame_out: npt.NDArray[np.uint8], boost: int
) -> tuple[float, float, float]:
    """Mean signed error per channel of ``frame_out`` against ``frame_in`` tinted by ``boost``."""
    expected = frame_in.astype(np.float64)
    expected[..., 1] = np.minimum(expected[..., 1] + boost, 255)
    error = (frame_out.astype(np.float64) - expected).reshape(-1, 3).mean(axis=0)
    return float(error[0]), float(error[1]), float(error[2])


def shows_tint(page: LabPage, boost: int) -> tuple[float, float, float] | None:
    """The tint error if the canvases show ``boost`` within JPEG error, else None."""
    frame_in, frame_out = page.rgb(INPUT, OUTPUT)
    error = tint_error(frame_in, frame_out, boost)
    return error if max(abs(e) for e in error) <= JPEG_TOLERANCE else None


def seq(page: LabPage) -> int:
    """The last frame the view drew (0 before the first)."""
    return page.int_attribute(VIEW, "data-seq") or 0


def settled_seq(page: LabPage, quiet: float) -> int | None:
    """``data-seq`` if it stays the same for ``quiet`` seconds, else None."""
    before = seq(page)
    time.sleep(quiet)
    return before if seq(page) == before else None


def test_preview_shows_green_tint_live(lab_page: LabPage) -> None:
    write_notebook(lab_page.lab.root / "preview.ipynb", [PREVIEW])
    lab_page.open_notebook("preview.ipynb")
    lab_page.run_all()
    lab_page.wait_for(VIEW)
    first = wait_until(lambda: seq(lab_page) or None, timeout=30, what="the first frame drawn")

    frame_in, frame_out = lab_page.rgb(INPUT, OUTPUT)
    assert frame_in.shape == frame_out.shape == (480, 640, 3)
    wait_until(lambda: shows_tint(lab_page, 80), timeout=10, what="GreenTint(80) output")
    green_gain = float(frame_out[..., 1].mean()) - float(frame_in[..., 1].mean())
    assert green_gain > 40, f"output green only {green_gain:.1f} above input's (boost 80)"
    lab_page.screenshot("preview-green-tint", ".byoc-preview")

    later = wait_until(
        lambda: seq(lab_page) if seq(lab_page) >= first + 10 else None,
        timeout=20,
        what=lambda: f"10 more frames after seq {first} (data-seq now {seq(lab_page)})",
    )
    (later_in,) = lab_page.rgb(INPUT)
    assert not np.array_equal(later_in, frame_in), f"seq {first} and {later}: the same input"

    lab_page.execute("engine.update_params({'boost': 20})")
    error = wait_until(lambda: shows_tint(lab_page, 20), timeout=10, what="GreenTint(20) output")
    assert max(abs(e) for e in error) <= JPEG_TOLERANCE
    stats = lab_page.locate(".byoc-preview-stats").inner_text()
    assert "playing" in stats, f"stats line: {stats!r}"
    assert " fps" in stats, f"stats line: {stats!r}"


def test_pause_and_play_buttons_stop_and_restart_frames(lab_page: LabPage) -> None:
    write_notebook(lab_page.lab.root / "pause.ipynb", [PREVIEW])
    lab_page.open_notebook("pause.ipynb")
    lab_page.run_all()
    first = wait_until(lambda: seq(lab_page) or None, timeout=30, what="the first frame drawn")

    lab_page.click_button("Pause", within=".byoc-preview")
    paused_at = wait_until(
        lambda: settled_seq(lab_page, 1.0),
        timeout=15,
        what=lambda: f"frames to stop after Pause (data-seq still moving: {seq(lab_page)})",
    )
    assert paused_at >= first
    state = lab_page.execute("print(engine.state.value)").strip()
    assert state == "paused", f"the engine is {state!r} after clicking Pause"

    lab_page.click_button("Play", within=".byoc-preview")
    wait_until(
        lambda: seq(lab_page) > paused_at + 5 or None,
        timeout=20,
        what=lambda: f"frames after Play (data-seq {paused_at} -> {seq(lab_page)})",
    )
    lab_page.screenshot("preview-playing-again", ".byoc-preview")
