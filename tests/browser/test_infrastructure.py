"""The browser test machinery itself, proven with plain ipywidgets (no byoc_lab widgets).

If these fail, the byoc_lab browser tests cannot be trusted: JupyterLab must run the
venv's kernel, a widget's pixels must be readable from the page, a slider moved in the
DOM must reach the kernel and come back as new pixels, and Chromium's fake camera must
deliver frames on the JupyterLab origin (a secure context: http://127.0.0.1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from .jupyter import write_notebook
from .page import LabPage, wait_until
from .pixels import Pixels

pytestmark = pytest.mark.browser

GREEN_IMAGE = """\
import cv2
import ipywidgets as widgets
import numpy as np


def green_png(level: int) -> bytes:
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 1] = level
    ok, data = cv2.imencode(".png", rgb[..., ::-1])
    assert ok
    return data.tobytes()


slider = widgets.IntSlider(value=40, min=0, max=255, description="green")
slider.add_class("probe-slider")
image = widgets.Image(value=green_png(slider.value), format="png", width=128)
image.add_class("probe-image")
slider.observe(lambda change: setattr(image, "value", green_png(change["new"])), names="value")
reset = widgets.Button(description="Reset")
reset.on_click(lambda _button: setattr(slider, "value", 0))
widgets.VBox([slider, image, reset])
"""

SLIDER = ".probe-slider"
IMAGE = "img.probe-image"


def is_green(level: float) -> Callable[[Pixels], bool]:
    """A pixel check: mean green ``level`` (PNG: lossless, so within 1), red and blue 0."""

    def accept(pixels: Pixels) -> bool:
        return abs(pixels.green - level) <= 1 and pixels.red <= 1 and pixels.blue <= 1

    return accept


def test_kernel_is_the_venvs_python(lab_page: LabPage) -> None:
    write_notebook(lab_page.lab.root / "kernel.ipynb", ["import sys\nprint(sys.prefix)"])
    lab_page.open_notebook("kernel.ipynb")
    lab_page.run_all()
    kernel_prefix = lab_page.cell_text(0).strip()
    assert Path(kernel_prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the notebook's kernel runs {kernel_prefix!r}, not the test venv {sys.prefix!r}: "
        "the python3 kernelspec must resolve to the venv"
    )


def test_image_follows_a_slider_moved_in_the_dom(lab_page: LabPage) -> None:
    write_notebook(lab_page.lab.root / "slider.ipynb", [GREEN_IMAGE])
    lab_page.open_notebook("slider.ipynb")
    lab_page.run_all()
    lab_page.wait_for(IMAGE)
    lab_page.wait_for_pixels(IMAGE, is_green(40), what="the image at green 40")
    lab_page.screenshot("infrastructure-slider-40", ".jp-OutputArea-output")

    lab_page.set_slider(SLIDER, 200)  # typed into the readout: an exact value
    shown = lab_page.wait_for_pixels(IMAGE, is_green(200), what="green 200 after typing 200")
    assert (shown.width, shown.height) == (64, 48)

    lab_page.press_slider(SLIDER, "ArrowLeft", times=5)  # keyboard on the noUiSlider handle
    wait_until(
        lambda: lab_page.slider_readout(SLIDER) == "195",
        timeout=10,
        what=lambda: f"the readout to show 195 (shows {lab_page.slider_readout(SLIDER)!r})",
    )
    lab_page.wait_for_pixels(IMAGE, is_green(195), what="green 195 after 5 x ArrowLeft")
    lab_page.screenshot("infrastructure-slider-195", ".jp-OutputArea-output")
    assert lab_page.execute("print(slider.value)").strip() == "195", "the kernel's slider value"
    (rgb,) = lab_page.rgb(IMAGE)
    assert rgb.shape == (48, 64, 3)
    assert (rgb == (0, 195, 0)).all(), f"pixel values other than (0, 195, 0): {np.unique(rgb)}"

    lab_page.click_button("Reset")
    lab_page.wait_for_pixels(IMAGE, is_green(0), what="green 0 after clicking Reset")


CAMERA = """async () => {
  if (!window.isSecureContext || !navigator.mediaDevices) {
    return { error: `no getUserMedia here (secure context: ${window.isSecureContext})` };
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (e) {
    return { error: `getUserMedia failed: ${e.name}: ${e.message}` };
  }
  const track = stream.getVideoTracks()[0];
  const video = document.createElement('video');
  video.id = 'probe-camera';
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  document.body.appendChild(video);
  await video.play();
  const settings = track.getSettings();
  return { label: track.label, width: settings.width, height: settings.height };
}"""


def test_fake_camera_delivers_frames_on_the_lab_origin(lab_page: LabPage) -> None:
    lab_page.page.goto(lab_page.lab.url("api/status"))  # a light page on the Lab's origin
    track = lab_page.page.evaluate(CAMERA)
    assert "error" not in track, f"Chromium's fake camera did not open: {track['error']}"
    assert track["width"] > 0, f"a video track without width: {track}"
    assert track["height"] > 0, f"a video track without height: {track}"
    frame = lab_page.wait_for_pixels(
        "video#probe-camera",
        lambda pixels: pixels.width > 0 and max(pixels.std) > 5,
        timeout=15,
        what="a non-flat frame from the fake camera",
    )
    assert (frame.width, frame.height) == (track["width"], track["height"])
