"""BrowserCamera: browser frames feed the source; a camera that cannot open says why."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from byoc_lab.browser_camera import BrowserCameraSource
from byoc_lab.errors import SourceError
from byoc_lab.frames import encode_image
from byoc_lab.widgets.camera import BrowserCamera

from .conftest import end_of


@pytest.fixture
def source() -> Iterator[BrowserCameraSource]:
    src = BrowserCameraSource(size=(64, 48), first_frame_timeout=5.0)
    yield src
    src.close()


@pytest.fixture
def camera(source: BrowserCameraSource) -> Iterator[BrowserCamera]:
    widget = BrowserCamera(source, quality=70)
    yield widget
    widget.close()


def test_traits_follow_the_source(camera: BrowserCamera) -> None:
    assert (camera.width, camera.height, camera.fps, camera.quality) == (64, 48, 30.0, 70)
    assert camera.autostart is True
    assert camera.state == "idle"


def test_a_browser_frame_becomes_the_sources_next_frame(
    source: BrowserCameraSource, camera: BrowserCamera
) -> None:
    browser = end_of(camera)
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    image[:, :, 2] = 200  # blue, at twice the source's size
    browser.deliver({"type": "started", "width": 128, "height": 96})
    assert camera.state == "running"
    browser.deliver({"type": "frame", "seq": 1}, [encode_image(image, "jpeg", 90)])
    assert [c for c, _ in browser.of_type("ack")] == [{"type": "ack", "seq": 1}]
    frame = next(iter(source))
    assert frame.image.shape == (48, 64, 3)
    assert frame.image[:, :, 2].mean() == pytest.approx(200, abs=4)
    assert frame.image[:, :, :2].mean() < 4
    assert source.received == 1


def test_garbage_is_refused_in_the_ack(source: BrowserCameraSource, camera: BrowserCamera) -> None:
    end_of(camera).deliver({"type": "frame", "seq": 7}, [b"not a jpeg"])
    [(ack, _)] = end_of(camera).of_type("ack")
    assert ack["seq"] == 7
    assert "not an image" in ack["error"]
    assert source.received == 0


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("InsecureContext", "needs https or http://localhost"),
        ("NotAllowedError", "permission to use the camera was denied"),
        ("NotFoundError", "found no camera"),
        ("NotReadableError", "in use by another application"),
        ("OverconstrainedError", "cannot deliver 64x48"),
    ],
)
def test_a_camera_that_cannot_open_fails_the_source_with_the_reason(
    source: BrowserCameraSource, camera: BrowserCamera, name: str, words: str
) -> None:
    end_of(camera).deliver({"type": "error", "name": name, "message": "from the browser"})
    assert camera.state == "failed"
    assert words in camera.reason
    assert f"({name}: from the browser)" in camera.reason
    with pytest.raises(SourceError, match="browser camera") as caught:
        next(iter(source))
    assert words in str(caught.value)


def test_start_and_stop_are_sent_to_the_view(camera: BrowserCamera) -> None:
    camera.start()
    camera.stop()
    assert [c["type"] for c, _ in end_of(camera).custom()] == ["start", "stop"]
    end_of(camera).deliver({"type": "stopped"})
    assert camera.state == "stopped"
