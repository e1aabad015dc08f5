"""PreviewPanel: the picker switches the engine's source; the lines show the engine's truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from byoc_lab.builtins import GreenTint
from byoc_lab.frames import decode_image, encode_image
from byoc_lab.preview import PreviewEngine
from byoc_lab.widgets.camera import BrowserCamera
from byoc_lab.widgets.preview_panel import PreviewPanel
from byoc_lab.workbench import Workbench

from .conftest import end_of, eventually


@pytest.fixture
def engine() -> Iterator[PreviewEngine]:
    preview = PreviewEngine(GreenTint(), "synthetic", size=(160, 120))
    yield preview
    preview.stop()


@pytest.fixture
def panel(engine: PreviewEngine, tmp_path: Path) -> Iterator[PreviewPanel]:
    widget = PreviewPanel(engine, snapshot_dir=tmp_path / "shots", refresh_interval=None)
    yield widget
    widget.close()


def test_the_picker_shows_the_current_source(panel: PreviewPanel) -> None:
    assert panel.source_picker.value == "synthetic"


def test_picking_an_image_file_switches_the_engine(
    engine: PreviewEngine, panel: PreviewPanel, tmp_path: Path
) -> None:
    picture = tmp_path / "blue.png"
    picture.write_bytes(encode_image(np.full((120, 160, 3), (0, 0, 200), dtype=np.uint8), "png"))
    panel.source_picker.value = "image file"
    assert engine.source.name == "synthetic"  # no path yet
    assert "type the path" in panel.message.value
    panel.path.value = str(picture)
    assert engine.source.name == "images"
    assert panel.source_picker.value == "image file"
    frame = engine.step()
    assert frame is not None
    assert frame.input[:, :, 2].mean() == pytest.approx(200, abs=2)


def test_a_source_that_cannot_open_says_why_and_the_old_one_continues(
    engine: PreviewEngine, panel: PreviewPanel, tmp_path: Path
) -> None:
    panel.source_picker.value = "video file"
    panel.path.value = str(tmp_path / "missing.mp4")
    assert engine.source.name == "synthetic"
    assert panel.source_picker.value == "synthetic"
    assert "video file not opened" in panel.message.value
    assert "missing.mp4" in panel.message.value
    assert engine.step() is not None


def test_the_browser_camera_gets_a_widget_feeding_the_engine(
    engine: PreviewEngine, panel: PreviewPanel
) -> None:
    panel.source_picker.value = "browser camera"
    camera = panel.camera
    assert isinstance(camera, BrowserCamera)
    assert engine.source is camera.source
    assert panel.camera_box.children == (camera,)
    assert (camera.width, camera.height) == engine.size
    picture = np.zeros((120, 160, 3), dtype=np.uint8)
    end_of(camera).deliver({"type": "frame", "seq": 1}, [encode_image(picture, "jpeg")])
    frame = engine.step()
    assert frame is not None
    assert frame.output is not None
    assert np.median(frame.output[:, :, 1]) == pytest.approx(80, abs=4)

    panel.source_picker.value = "synthetic"
    assert engine.source.name == "synthetic"
    assert panel.camera is None
    assert camera.comm is None


def test_a_failing_browser_camera_shows_its_reason(
    engine: PreviewEngine, panel: PreviewPanel
) -> None:
    panel.source_picker.value = "browser camera"
    camera = panel.camera
    assert camera is not None
    engine.play()
    end_of(camera).deliver({"type": "error", "name": "NotAllowedError", "message": "denied"})

    def paused_with_reason() -> bool:
        panel.refresh()
        return "permission to use the camera was denied" in panel.message.value

    eventually(paused_with_reason, what="the camera's reason in the message line")


def test_stats_line_is_refreshed_in_the_background(engine: PreviewEngine, tmp_path: Path) -> None:
    panel = PreviewPanel(engine, snapshot_dir=tmp_path, refresh_interval=0.1, autoplay=True)
    try:
        end_of(panel.frame_view).deliver({"type": "ready"})
        text = eventually(
            lambda: "process p50" in panel.stats.value and panel.stats.value,
            what="a refreshed stats line",
        )
        assert text.startswith("playing · ")
        assert " fps · " in text
        assert "dropped " in text
        assert "display " in text
    finally:
        panel.close()


def test_step_and_snapshot(engine: PreviewEngine, panel: PreviewPanel) -> None:
    panel.step()
    eventually(lambda: "stepped to frame" in panel.message.value, what="step's message")
    paths = panel.snapshot()
    assert paths is not None
    assert paths == panel.last_snapshot
    input_png, output_png = paths
    assert output_png is not None
    assert str(output_png) in panel.message.value
    before = decode_image(input_png.read_bytes()).astype(int)
    after = decode_image(output_png.read_bytes()).astype(int)
    green = np.minimum(before[:, :, 1] + 80, 255)  # PNG is lossless: exactly GreenTint's effect
    assert np.array_equal(after[:, :, 1], green)
    assert np.array_equal(after[:, :, [0, 2]], before[:, :, [0, 2]])


def test_snapshot_before_any_frame_says_so(panel: PreviewPanel) -> None:
    assert panel.snapshot() is None
    assert "no frame to save yet" in panel.message.value


def test_a_workbench_is_accepted(tmp_path: Path) -> None:
    bench = Workbench(source="synthetic", size=(160, 120))
    panel = PreviewPanel(bench, snapshot_dir=tmp_path, refresh_interval=None)
    try:
        assert panel.engine is bench.preview
        assert panel.frame_view.feed is bench.preview
    finally:
        panel.close()
        bench.close()
