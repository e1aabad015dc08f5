from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from byoc_lab import (
    ImageSource,
    SourceError,
    SyntheticSource,
    VideoFileSource,
    WebcamSource,
    read_frame_number,
)
from byoc_lab.frames import Frame, encode_image, to_bgr
from byoc_lab.source_base import FrameSource
from byoc_lab.sources import auto, camera_problem, open_source


def test_synthetic_frames_are_deterministic_numbered_and_timestamped() -> None:
    frames = list(SyntheticSource("bars", width=320, height=240, fps=25, count=5))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.timestamp for f in frames] == [0.0, 0.04, 0.08, 0.12, 0.16]
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [read_frame_number(f.image) for f in frames] == [0, 1, 2, 3, 4]
    again = SyntheticSource("bars", width=320, height=240, count=5)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, again, strict=True))
    assert not np.array_equal(frames[0].image, frames[1].image)


@pytest.mark.parametrize("pattern", ["bars", "gradient", "checker"])
def test_patterns_move_over_time(pattern: str) -> None:
    src = SyntheticSource(pattern, width=128, height=96, burn_in=False)  # type: ignore[arg-type]
    a, b = src.render(0), src.render(10)
    assert a.shape == (96, 128, 3)
    assert not np.array_equal(a, b)


def test_solid_black_is_the_quickstart_frame() -> None:
    src = SyntheticSource("solid", color=(0, 0, 0), burn_in=False, count=1)
    (frame,) = list(src)
    assert frame.image.tobytes() == bytes(640 * 480 * 3)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"width": 0}, "positive"),
        ({"width": 641}, "must be even"),
        ({"pattern": "plaid"}, "bars, gradient, checker or solid"),
        ({"fps": 0}, "fps must be positive"),
        ({"count": -1}, "must not be negative"),
    ],
)
def test_bad_synthetic_arguments(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(SourceError, match=words):
        SyntheticSource(**kwargs)  # type: ignore[arg-type]


def test_images_from_a_glob_in_sorted_order_resized(tmp_path: Path) -> None:
    for n, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        image = np.zeros((30, 40, 3), dtype=np.uint8)
        image[:] = colour
        (tmp_path / f"img{n}.png").write_bytes(encode_image(image, "png"))
    frames = list(ImageSource(str(tmp_path / "img*.png"), size=(20, 16)))
    assert [f.image.shape for f in frames] == [(16, 20, 3)] * 3
    assert [f.image[5, 5].tolist() for f in frames] == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def test_missing_images_and_unreadable_images(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no image file found"):
        ImageSource(str(tmp_path / "*.png"))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match="cannot read image"):
        list(ImageSource(tmp_path / "broken.png"))


def _write_video(path: Path, count: int, size: tuple[int, int] = (320, 240)) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, size)
    assert writer.isOpened()
    for frame in SyntheticSource("gradient", width=size[0], height=size[1], count=count):
        writer.write(to_bgr(frame.image))
    writer.release()


def test_video_file_yields_every_frame_in_order_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _write_video(path, 12)
    with VideoFileSource(path) as src:
        frames = list(src)
    assert len(frames) == 12
    assert [read_frame_number(f.image) for f in frames] == list(range(12))
    assert frames[0].image.shape == (240, 320, 3)
    assert src.fps == pytest.approx(30.0)


def test_video_file_loops_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _write_video(path, 4)
    frames = list(VideoFileSource(path, loop=True, count=10))
    assert [read_frame_number(f.image) for f in frames] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_unreadable_and_missing_video(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(SourceError, match="cannot decode video file") as info:
        VideoFileSource(junk)
    assert "ffmpeg -i IN" in str(info.value)
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource(tmp_path / "none.mp4")


@pytest.mark.skipif(not camera_problem(0), reason="this machine has a camera at index 0")
def test_no_camera_gives_a_reason_and_a_way_out() -> None:
    with pytest.raises(SourceError) as info:
        WebcamSource(0)
    assert "no usable camera at index 0" in str(info.value)
    assert "browser camera" in str(info.value)


@pytest.mark.skipif(not camera_problem(0), reason="this machine has a camera at index 0")
def test_auto_falls_back_in_order_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _write_video(path, 3)
    chosen = auto(file=path, width=320, height=240)
    assert chosen.name == "video"
    assert "no usable camera" in chosen.reason
    assert chosen.reason.endswith("using video clip.avi")
    fallback = auto(file=tmp_path / "missing.mp4", width=320, height=240, count=2)
    assert fallback.name == "synthetic"
    assert "not found" in fallback.reason
    assert fallback.reason.endswith("using synthetic colour bars")
    assert len(list(fallback)) == 2


def test_open_source_texts() -> None:
    src = open_source("synthetic:checker", width=64, height=48, count=1)
    assert isinstance(src, SyntheticSource)
    assert src.pattern == "checker"
    assert src.describe() == "synthetic checker 64x48 @ 30 fps"
    with pytest.raises(SourceError, match="camera index"):
        open_source("webcam:front")


class _CountingSource(FrameSource):
    """Records how many frames were pulled from it (a camera blocks on each)."""

    def __init__(self, *, count: int | None) -> None:
        super().__init__(count=count)
        self.pulled = 0

    def frames(self) -> Iterator[Frame]:
        while True:
            self.pulled += 1
            yield Frame(np.zeros((2, 2, 3), dtype=np.uint8), index=self.pulled - 1, timestamp=0.0)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_counted_source_is_not_read_past_its_count(count: int) -> None:
    source = _CountingSource(count=count)
    assert [frame.index for frame in source] == list(range(count))
    assert source.pulled == count
