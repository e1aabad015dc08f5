"""FrameView: frames go to the browser only when a view is ready, one at a time."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from byoc_lab.builtins import GreenTint
from byoc_lab.frames import RGBImage, decode_image
from byoc_lab.preview import PreviewEngine, PreviewFrame
from byoc_lab.widgets.frame_view import FrameView

from .conftest import end_of, eventually


class HandFeed:
    """A feed the test drives frame by frame (the engine is tested end to end below)."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[PreviewFrame], None]] = []
        self.frames: list[PreviewFrame] = []

    def on_frame(self, callback: Callable[[PreviewFrame], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def latest(self) -> PreviewFrame | None:
        return self.frames[-1] if self.frames else None

    def emit(self, value: int, *, error: str | None = None) -> PreviewFrame:
        image: RGBImage = np.full((48, 64, 3), value, dtype=np.uint8)
        output = None if error else 255 - image
        frame = PreviewFrame(len(self.frames) + 1, len(self.frames), image, output, 1.5, error)
        self.frames.append(frame)
        for callback in list(self.callbacks):
            callback(frame)
        return frame


@pytest.fixture
def feed() -> HandFeed:
    return HandFeed()


@pytest.fixture
def view(feed: HandFeed) -> Iterator[FrameView]:
    widget = FrameView(feed, ack_timeout=600.0)  # no expiry: only acks release frames
    yield widget
    widget.close()


def test_nothing_is_sent_before_a_view_is_ready(feed: HandFeed, view: FrameView) -> None:
    feed.emit(10)
    feed.emit(20)
    assert end_of(view).of_type("frame") == []
    end_of(view).deliver({"type": "ready"})
    [(content, buffers)] = end_of(view).of_type("frame")
    assert content["seq"] == 2  # the latest frame, at once
    assert content["has_input"]
    assert content["has_output"]
    assert len(buffers) == 2
    assert decode_image(buffers[0]).mean() == pytest.approx(20, abs=2)
    assert decode_image(buffers[1]).mean() == pytest.approx(235, abs=2)


def test_two_frames_in_flight_and_the_latest_wins(feed: HandFeed, view: FrameView) -> None:
    browser = end_of(view)
    browser.deliver({"type": "ready"})
    feed.emit(10)
    for value in (20, 30, 40, 50):  # arrive while frames 1 and 2 are not yet drawn
        feed.emit(value)
    assert [c["seq"] for c, _ in browser.of_type("frame")] == [1, 2]
    browser.deliver({"type": "ack", "seq": 1})
    assert [c["seq"] for c, _ in browser.of_type("frame")] == [1, 2, 5]
    stats = view.delivery_stats()
    assert stats is not None
    assert (stats.sent, stats.acked, stats.dropped, stats.in_flight_count) == (3, 1, 2, 2)


def test_one_in_flight_when_asked(feed: HandFeed) -> None:
    view = FrameView(feed, ack_timeout=600.0, max_in_flight=1)
    try:
        browser = end_of(view)
        browser.deliver({"type": "ready"})
        for value in (10, 20, 30):
            feed.emit(value)
        assert [c["seq"] for c, _ in browser.of_type("frame")] == [1]
        browser.deliver({"type": "ack", "seq": 1})
        assert [c["seq"] for c, _ in browser.of_type("frame")] == [1, 3]
    finally:
        view.close()


def test_error_frames_carry_the_error_and_no_output(feed: HandFeed, view: FrameView) -> None:
    browser = end_of(view)
    browser.deliver({"type": "ready"})
    feed.emit(50, error="ZeroDivisionError: division by zero (line 7 of the editor)")
    [(content, buffers)] = browser.of_type("frame")
    assert content["has_output"] is False
    assert content["error"].startswith("ZeroDivisionError")
    assert len(buffers) == 1  # the input only


def test_output_pane_only_sends_no_input(feed: HandFeed) -> None:
    view = FrameView(feed, panes="output")
    try:
        end_of(view).deliver({"type": "ready"})
        feed.emit(10)
        [(content, buffers)] = end_of(view).of_type("frame")
        assert content["has_input"] is False
        assert len(buffers) == 1
    finally:
        view.close()


def test_the_still_shows_the_panes_the_view_shows(feed: HandFeed) -> None:
    feed.emit(10)  # input 10, output 245, 64x48
    for panes, width in (("both", 64 + 8 + 64), ("output", 64)):
        view = FrameView(feed, panes=panes)
        try:
            bundle = view._repr_mimebundle_()
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            still = decode_image(base64.b64decode(data["image/jpeg"]))
        finally:
            view.close()
        assert still.shape == (48, width, 3), panes
        assert abs(float(still[:, -64:].mean()) - 245) < 4  # the output pane, rightmost


def test_a_new_view_gets_the_latest_frame_again(feed: HandFeed, view: FrameView) -> None:
    browser = end_of(view)
    browser.deliver({"type": "ready"})
    feed.emit(10)  # in flight to the first view, never acknowledged
    browser.deliver({"type": "ready"})  # the page was reloaded
    assert [c["seq"] for c, _ in browser.of_type("frame")] == [1, 1]
    assert view.views_ready == 2


def test_close_unsubscribes_and_stops_sending(feed: HandFeed) -> None:
    view = FrameView(feed)
    end_of(view).deliver({"type": "ready"})
    view.close()
    assert feed.callbacks == []


def test_engine_frames_reach_the_browser_with_the_processors_effect() -> None:
    engine = PreviewEngine(GreenTint(), "synthetic:solid", size=(160, 120))
    view = FrameView(engine, ack_timeout=600.0)
    browser = end_of(view)
    try:
        engine.play()
        browser.deliver({"type": "ready"})
        [(first, buffers)] = browser.wait_for("frame")
        input_image, output_image = (decode_image(b).astype(int) for b in buffers)
        # A black frame (with its frame number burned in) gets its green boosted by 80.
        green = output_image[:, :, 1] - input_image[:, :, 1]
        assert np.median(green) == pytest.approx(80, abs=6)
        red = output_image[:, :, 0] - input_image[:, :, 0]
        assert np.median(np.abs(red)) < 6
        browser.deliver({"type": "ack", "seq": first["seq"]})
        frames = browser.wait_for("frame", count=2)
        assert frames[1][0]["seq"] > first["seq"]
        stats = eventually(view.delivery_stats, what="delivery stats")
        assert stats.acked == 1
    finally:
        view.close()
        engine.stop()


def test_only_a_playing_preview_is_waited_for_when_displayed() -> None:
    from byoc_lab import Passthrough
    from byoc_lab.preview import PreviewEngine
    from byoc_lab.widgets._still import STILL_WAIT, still_wait

    engine = PreviewEngine(Passthrough(), "synthetic", size=(64, 48))
    try:
        assert still_wait(engine) == 0.0  # never played: displaying must not stall
        engine.play()
        assert still_wait(engine) == STILL_WAIT
        engine.pause()
        assert still_wait(engine) == 0.0
    finally:
        engine.stop()
    assert still_wait(object()) == STILL_WAIT  # a stream run: frames flow from a preview
