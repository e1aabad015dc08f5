"""A processor that raises or hangs never stops the preview; a swap recovers it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from byoc_lab import GreenTint, read_frame_number
from byoc_lab.preview import PreviewEngine, PreviewFrame, PreviewState

from .helpers import Frames, compile_user, green_boosted, pixel, wait_for

MakeEngine = Callable[..., PreviewEngine]

RAISES = """\
import numpy as np
from byoc_lab import FrameProcessor, read_frame_number


class OddFrames(FrameProcessor):
    def process(self, frame: np.ndarray) -> np.ndarray:
        number = read_frame_number(frame)
        if number % 2:
            raise ValueError(f"odd frame {number}")
        return frame
"""

HANGS_SYNC = """\
import numpy as np
from byoc_lab import FrameProcessor


class Stuck(FrameProcessor):
    calls = 0
    release = None

    def process(self, frame: np.ndarray) -> np.ndarray:
        type(self).calls += 1
        self.release.wait(10)
        return frame
"""

HANGS_ASYNC = """\
import asyncio
import numpy as np
from byoc_lab import FrameProcessor


class Waits(FrameProcessor):
    async def process(self, frame: np.ndarray) -> np.ndarray:
        await asyncio.sleep(3600)
        return frame
"""


def test_a_raising_process_gives_frames_with_the_error_line_and_goes_on(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(compile_user(RAISES)())
    frames = Frames()
    engine.on_frame(frames)
    engine.play()
    wait_for(lambda: len(frames.all()) >= 8, "8 frames")
    odd = [f for f in frames.all() if f.index % 2]
    even = [f for f in frames.all() if not f.index % 2]
    assert odd
    assert even
    for frame in odd:
        assert frame.output is None
        assert frame.process_ms is None
        assert frame.error == f"ValueError: odd frame {frame.index} (line 9 of the editor)"
    for frame in even:
        assert frame.error is None
        assert frame.output is not None
        assert read_frame_number(frame.output) == frame.index
    stats = engine.stats()
    assert stats.errors >= len(odd)
    assert stats.timeouts == 0
    assert stats.last_error is not None
    assert stats.last_error.startswith("ValueError: odd frame")
    assert engine.state is PreviewState.PLAYING


def _recovers(engine: PreviewEngine) -> None:
    """Swap a good processor in (bounded) and see its effect on new frames."""
    done = threading.Event()

    def swap() -> None:
        engine.swap(GreenTint(boost=80))
        done.set()

    threading.Thread(target=swap).start()
    assert done.wait(10), "swap() did not return"

    def tinted() -> PreviewFrame | None:
        frame = engine.latest()
        if frame is None or frame.output is None:
            return None
        return frame if pixel(frame.output) == green_boosted(80) else None

    wait_for(tinted, "tinted frames after the swap")
    assert engine.latest().error is None  # type: ignore[union-attr]


def test_a_hanging_sync_process_times_out_and_a_swap_recovers(
    make_engine: MakeEngine, release: threading.Event
) -> None:
    cls = compile_user(HANGS_SYNC)
    cls.release = release  # type: ignore[attr-defined]
    engine = make_engine(cls(), frame_timeout=0.3)
    frames = Frames()
    engine.on_frame(frames)
    engine.play()
    wait_for(lambda: engine.stats().timeouts == 1, "a timeout")
    first = frames.all()[0]
    assert first.output is None
    assert first.error == (
        f"Stuck.process() did not return within 0.3 s on frame {first.index} "
        "(line 11 of the editor)"
    )
    # Still hung: frames pass through without calling process() again; stats move on.
    wait_for(lambda: len(frames.all()) >= 5, "frames passing through while hung")
    later = frames.all()[1:]
    for frame in later:
        assert frame.output is None
        assert frame.error == (
            f"Stuck.process() is still running since frame {first.index} "
            "(line 11 of the editor); Apply a fixed processor"
        )
    assert cls.calls == 1  # type: ignore[attr-defined]
    stats = engine.stats()
    assert stats.timeouts == 1
    assert stats.errors == 0
    assert stats.frames >= 5
    assert stats.last_error is not None
    assert "still running" in stats.last_error
    # Controls answer while the thread is still stuck.
    engine.pause()
    engine.play()
    assert engine.update_params({}) == {}
    _recovers(engine)
    assert cls.calls == 1  # type: ignore[attr-defined]


def test_a_hanging_async_process_times_out_and_a_swap_recovers(make_engine: MakeEngine) -> None:
    engine = make_engine(compile_user(HANGS_ASYNC)(), frame_timeout=0.3)
    frames = Frames()
    engine.on_frame(frames)
    engine.play()
    wait_for(lambda: engine.stats().timeouts == 1, "a timeout")
    first = frames.all()[0]
    assert first.error == (
        f"Waits.process() did not return within 0.3 s on frame {first.index} (line 8 of the editor)"
    )
    wait_for(lambda: engine.stats().frames >= 4, "frames passing through while hung")
    for frame in frames.all()[1:]:
        assert frame.error == (
            f"Waits.process() has hung (cancelled, not called again) since frame {first.index} "
            "(line 8 of the editor); Apply a fixed processor"
        )
    _recovers(engine)
    assert engine.stats().timeouts == 1


def test_step_answers_while_hung(make_engine: MakeEngine, release: threading.Event) -> None:
    cls = compile_user(HANGS_SYNC)
    cls.release = release  # type: ignore[attr-defined]
    engine = make_engine(cls(), frame_timeout=0.2)
    first = engine.step()
    assert first is not None
    assert first.error is not None
    assert "did not return" in first.error
    second = engine.step()
    assert second is not None
    assert second.index == first.index + 1
    assert second.error is not None
    assert "still running since frame" in second.error


def test_process_raising_timeout_error_is_an_error_not_a_hang(make_engine: MakeEngine) -> None:
    class Raises(GreenTint):
        def process(self, frame):  # type: ignore[no-untyped-def]
            raise TimeoutError("camera API timed out")

    engine = make_engine(Raises())
    frame = engine.step()
    assert frame is not None
    assert frame.error is not None
    assert frame.error.startswith("TimeoutError: camera API timed out (line ")
    stats = engine.stats()
    assert stats.errors == 1
    assert stats.timeouts == 0
    frame = engine.step()
    assert frame is not None
    assert frame.error is not None
    assert "still running" not in frame.error


@pytest.mark.parametrize("when", ["playing", "paused"])
def test_stop_while_hung_returns(
    make_engine: MakeEngine, release: threading.Event, when: str
) -> None:
    cls = compile_user(HANGS_SYNC)
    cls.release = release  # type: ignore[attr-defined]
    engine = make_engine(cls(), frame_timeout=0.2)
    engine.play()
    wait_for(lambda: engine.stats().timeouts == 1, "a timeout")
    if when == "paused":
        engine.pause()
    engine.stop()
    assert engine.state is PreviewState.STOPPED
