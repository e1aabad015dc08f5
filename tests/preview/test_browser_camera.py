"""BrowserCameraSource: JPEG frames pushed by the browser widget, failures, timeouts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from byoc_lab import FrameError, GreenTint, SourceError, read_frame_number
from byoc_lab.browser_camera import BrowserCameraSource
from byoc_lab.frames import Frame, encode_image
from byoc_lab.preview import PreviewEngine, PreviewFrame, PreviewState
from byoc_lab.sources import open_source

from .helpers import BASE, SIZE, assert_close, green_boosted, pixel, solid, wait_for

MakeEngine = Callable[..., PreviewEngine]


def jpeg(index: int, color: tuple[int, int, int] = BASE) -> bytes:
    return encode_image(solid(color).render(index), "jpeg", 95)


def latest_after(engine: PreviewEngine, seq: int) -> PreviewFrame | None:
    frame = engine.latest()
    return frame if frame is not None and frame.seq >= seq else None


def read_in_thread(source: BrowserCameraSource) -> tuple[threading.Thread, list[object]]:
    """Iterate ``source`` in a thread; the list gets frames, then the exception or "end"."""
    seen: list[object] = []

    def run() -> None:
        try:
            for frame in source:
                seen.append(frame)
        except SourceError as exc:
            seen.append(exc)
        else:
            seen.append("end")

    thread = threading.Thread(target=run)
    thread.start()
    return thread, seen


def test_pushed_jpegs_come_out_as_frames_latest_first() -> None:
    source = BrowserCameraSource(size=SIZE, count=2)
    source.push_jpeg(jpeg(7))
    source.push_jpeg(jpeg(8))  # replaces 7 before anyone read it
    frames: Iterator[Frame] = iter(source)
    first = next(frames)
    assert read_frame_number(first.image) == 8
    assert first.index == 0
    assert_close(pixel(first.image), BASE)
    source.push_jpeg(jpeg(9))
    second = next(frames)
    assert read_frame_number(second.image) == 9
    assert second.index == 1
    assert source.received == 3
    assert source.dropped == 1
    assert next(frames, None) is None  # count=2
    assert source.describe() == "browser camera 320x240"
    assert source.name == "browser camera"


def test_frames_are_resized_to_the_source_size() -> None:
    source = BrowserCameraSource(size=(160, 120))
    source.push_jpeg(encode_image(solid(count=1).render(0), "jpeg", 95))
    frame = next(iter(source))
    assert frame.image.shape == (120, 160, 3)
    with pytest.raises(FrameError, match="not an RGB image"):
        source.push_rgb(frame.image[:, :, 0])


def test_garbage_is_a_frame_error_saying_what_was_expected() -> None:
    source = BrowserCameraSource()
    with pytest.raises(FrameError) as info:
        source.push_jpeg(b"not a jpeg at all")
    message = str(info.value)
    assert "the browser camera sent a frame that is not an image" in message
    assert "expected JPEG bytes" in message
    assert "17 bytes" in message
    assert source.received == 0


def test_fail_wakes_a_waiting_reader_with_the_reason() -> None:
    source = BrowserCameraSource(first_frame_timeout=30)
    thread, seen = read_in_thread(source)
    threading.Event().wait(0.1)
    source.fail("NotAllowedError: the user denied camera access")
    thread.join(5)
    assert not thread.is_alive()
    assert len(seen) == 1
    assert isinstance(seen[0], SourceError)
    assert str(seen[0]) == "NotAllowedError: the user denied camera access"


def test_no_frame_in_time_is_a_clear_source_error() -> None:
    source = BrowserCameraSource(first_frame_timeout=0.2, frame_timeout=0.2)
    with pytest.raises(SourceError, match=r"sent no frame for 0\.2 s: is the camera allowed\?"):
        next(iter(source))
    source.push_jpeg(jpeg(1))
    frames = iter(source)
    next(frames)
    with pytest.raises(SourceError, match=r"sent no frame for 0\.2 s: is the notebook's tab"):
        next(frames)


def test_close_ends_a_waiting_reader_and_ignores_later_pushes() -> None:
    source = BrowserCameraSource(first_frame_timeout=30)
    thread, seen = read_in_thread(source)
    threading.Event().wait(0.1)
    source.close()
    thread.join(5)
    assert not thread.is_alive()
    assert seen == ["end"]
    source.push_jpeg(jpeg(1))
    assert source.received == 0


def test_open_source_browser_says_the_widget_feeds_it() -> None:
    with pytest.raises(SourceError, match="BrowserCamera widget"):
        open_source("browser")


def test_a_preview_of_the_browser_camera_end_to_end(make_engine: MakeEngine) -> None:
    source = BrowserCameraSource(size=SIZE, first_frame_timeout=5)
    engine = make_engine(GreenTint(boost=80), source)
    stop = threading.Event()

    def browser() -> None:
        index = 0
        while not stop.is_set():
            source.push_jpeg(jpeg(index))
            index += 1
            stop.wait(0.02)

    pusher = threading.Thread(target=browser)
    pusher.start()
    try:
        engine.play()
        frame = wait_for(lambda: latest_after(engine, 5), "5 frames")
        assert frame.output is not None
        assert frame.error is None
        assert_close(pixel(frame.output), green_boosted(80))
        assert read_frame_number(frame.output) is not None
    finally:
        stop.set()
        pusher.join(5)
    source.fail("NotReadableError: the camera is in use by another program")
    wait_for(lambda: engine.state is PreviewState.PAUSED, "the preview to pause")
    assert engine.stats().message == (
        "paused: NotReadableError: the camera is in use by another program"
    )
    engine.stop()
    received = source.received
    assert received >= 5
    source.push_jpeg(jpeg(1))  # closed with the preview: ignored
    assert source.received == received


def test_switching_away_from_a_silent_browser_camera_keeps_playing(
    make_engine: MakeEngine,
) -> None:
    camera = BrowserCameraSource(size=SIZE, first_frame_timeout=30)
    engine = make_engine(GreenTint(boost=80), camera)
    engine.play()  # the reader now waits for the browser's first frame
    threading.Event().wait(0.2)
    engine.set_source(solid())
    wait_for(lambda: engine.stats().frames >= 3, "frames from the new source")
    assert engine.state is PreviewState.PLAYING
    assert engine.stats().message == "playing synthetic solid 320x240 @ 30 fps"
    camera.push_jpeg(jpeg(1))
    assert camera.received == 0  # closed when replaced
