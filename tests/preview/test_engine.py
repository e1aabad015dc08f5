"""PreviewEngine: play, pause, step, parameters, swaps, stop, on real sources and processors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from byoc_lab import (
    ContractError,
    FrameProcessor,
    GreenTint,
    Param,
    ParamError,
    Passthrough,
    RuntimeStateError,
    SourceError,
    read_frame_number,
)
from byoc_lab.frames import Frame, RGBImage
from byoc_lab.preview import PreviewEngine, PreviewFrame, PreviewState
from byoc_lab.source_base import FrameSource

from .helpers import BASE, SIZE, Frames, assert_close, green_boosted, pixel, solid, wait_for

MakeEngine = Callable[..., PreviewEngine]


class BlueTint(FrameProcessor):
    """Shares ``boost`` with GreenTint, but adds it to the blue channel."""

    boost = Param(10, min=0, max=200)
    opacity = Param(0.5, min=0.0, max=1.0)

    def process(self, frame: RGBImage) -> RGBImage:
        out = frame.copy()
        out[:, :, 2] = np.minimum(frame[:, :, 2].astype(np.int32) + self.boost, 255)
        return out


class Lifecycle(GreenTint):
    """Records its hooks."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.calls: list[str] = []

    async def initialize(self) -> None:
        self.calls.append("initialize")

    async def shutdown(self) -> None:
        self.calls.append("shutdown")


def frame_with(
    engine: PreviewEngine, what: str, test: Callable[[PreviewFrame], bool]
) -> PreviewFrame:
    def probe() -> PreviewFrame | None:
        frame = engine.latest()
        return frame if frame is not None and test(frame) else None

    return wait_for(probe, what)


def test_plays_synthetic_frames_and_outputs_are_tinted(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint(boost=80))
    frames = Frames()
    engine.on_frame(frames)
    assert engine.state.value == "idle"
    assert engine.latest() is None
    engine.play()
    wait_for(lambda: len(frames.all()) >= 10, "10 frames")
    got = frames.all()
    assert [f.seq for f in got] == list(range(1, len(got) + 1))
    for frame in got:
        assert frame.error is None
        assert frame.process_ms is not None
        assert pixel(frame.input) == BASE
        assert pixel(frame.output) == green_boosted(80)
        assert read_frame_number(frame.input) == frame.index
        assert frame.output is not None
        assert read_frame_number(frame.output) == frame.index
    indices = [f.index for f in got]
    assert indices == sorted(indices)
    assert len(set(indices)) == len(indices)
    stats = engine.stats()
    assert stats.state == "playing"
    assert engine.state is PreviewState.PLAYING
    assert stats.frames >= 10
    assert stats.errors == stats.timeouts == 0
    assert stats.process_p50_ms is not None
    assert stats.process_p95_ms is not None
    assert stats.process_p50_ms <= stats.process_p95_ms
    assert stats.fps > 0
    assert stats.source == "synthetic solid 320x240 @ 30 fps"
    assert "synthetic solid" in stats.message


def test_frames_encode_to_jpeg_once(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint(boost=80))
    frame = engine.step()
    assert frame is not None
    jpeg = frame.input_jpeg()
    assert jpeg[:2] == b"\xff\xd8"
    assert frame.input_jpeg() is jpeg
    out = frame.output_jpeg()
    assert out is not None
    assert frame.output_jpeg() is out
    from byoc_lab.frames import decode_image

    assert_close(pixel(decode_image(out)), green_boosted(80))


def test_pause_stops_frames_and_play_resumes(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint())
    engine.play()
    wait_for(lambda: engine.stats().frames >= 3, "3 frames")
    engine.pause()
    assert engine.state is PreviewState.PAUSED
    assert engine.stats().message == "paused"
    settled = wait_for(engine.latest, "a frame")
    threading.Event().wait(0.2)  # a frame in flight at pause() may still land
    seq = engine.latest().seq  # type: ignore[union-attr]
    threading.Event().wait(0.4)
    assert engine.latest().seq == seq  # type: ignore[union-attr]
    assert seq >= settled.seq
    engine.play()
    wait_for(lambda: engine.latest().seq > seq + 2, "frames after play()")  # type: ignore[union-attr]


def test_step_processes_exactly_the_next_frame(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint(boost=80))
    first = engine.step()  # from IDLE: initializes, pauses, processes frame 0
    assert first is not None
    assert engine.state is PreviewState.PAUSED
    assert read_frame_number(first.input) == 0
    assert first.seq == 1
    engine.play()
    wait_for(lambda: engine.stats().frames >= 5, "5 frames")
    a, b, c = engine.step(), engine.step(), engine.step()
    assert a is not None
    assert b is not None
    assert c is not None
    numbers = [read_frame_number(f.input) or 0 for f in (a, b, c)]
    assert numbers[0] > 0
    assert numbers[1] == numbers[0] + 1
    assert numbers[2] == numbers[1] + 1
    assert [f.index for f in (a, b, c)] == numbers
    assert a.seq < b.seq < c.seq
    assert c.seq == b.seq + 1 == a.seq + 2
    assert pixel(c.output) == green_boosted(80)
    threading.Event().wait(0.3)
    assert engine.latest() is c
    assert engine.state is PreviewState.PAUSED


def test_update_params_changes_the_output(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint(boost=80))
    engine.play()
    frame_with(engine, "tinted by 80", lambda f: pixel(f.output) == green_boosted(80))
    assert engine.update_params({"boost": 150}) == {"boost": 150}
    frame_with(engine, "tinted by 150", lambda f: pixel(f.output) == green_boosted(150))
    with pytest.raises(ParamError, match="out of bounds"):
        engine.update_params({"boost": 999})
    with pytest.raises(ParamError, match="no parameter 'nope'"):
        engine.update_params({"nope": 1})
    assert engine.processor.boost == 150


def test_swap_changes_output_and_carries_shared_params(make_engine: MakeEngine) -> None:
    old = Lifecycle(boost=40)
    engine = make_engine(old)
    engine.play()
    frame_with(engine, "green tint", lambda f: pixel(f.output) == green_boosted(40))
    carried = engine.swap(BlueTint())
    assert carried == {"boost": 40}
    new = engine.processor
    assert isinstance(new, BlueTint)
    assert engine.processor.opacity == 0.5
    r, g, b = BASE
    frame_with(engine, "blue tint by 40", lambda f: pixel(f.output) == (r, g, b + 40))
    assert old.calls == ["initialize", "shutdown"]  # the old one was shut down
    assert engine.swap(Passthrough) == {}  # a class is instantiated; nothing to carry
    frame_with(engine, "passthrough", lambda f: pixel(f.output) == BASE)
    with pytest.raises(ContractError):
        engine.swap(object())
    assert type(engine.processor) is Passthrough


def test_swap_keeps_the_old_processor_when_initialize_raises(make_engine: MakeEngine) -> None:
    class Broken(GreenTint):
        async def initialize(self) -> None:
            raise RuntimeError("no model file")

    engine = make_engine(GreenTint(boost=80))
    engine.play()
    with pytest.raises(RuntimeError, match="no model file"):
        engine.swap(Broken())
    assert type(engine.processor) is GreenTint
    seq = engine.latest().seq if engine.latest() else 0  # type: ignore[union-attr]
    frame_with(
        engine, "still tinted", lambda f: f.seq > seq and pixel(f.output) == green_boosted(80)
    )


def test_frames_of_another_size_are_resized(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint(), solid(), size=(160, 120))
    frame = engine.step()
    assert frame is not None
    assert frame.input.shape == (120, 160, 3)
    assert frame.output is not None
    assert frame.output.shape == (120, 160, 3)
    assert tuple(int(v) for v in frame.input[110, 150]) == BASE
    assert tuple(int(v) for v in frame.output[110, 150]) == green_boosted(80)


def test_a_video_file_loops(make_engine: MakeEngine, tmp_path: Any) -> None:
    import cv2

    from byoc_lab.frames import to_bgr
    from byoc_lab.sources import SyntheticSource, VideoFileSource

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, SIZE)
    for frame in SyntheticSource("gradient", width=SIZE[0], height=SIZE[1], count=4):
        writer.write(to_bgr(frame.image))
    writer.release()
    engine = make_engine(Passthrough(), VideoFileSource(path))
    frames = Frames()
    engine.on_frame(frames)
    engine.play()
    wait_for(lambda: len(frames.all()) >= 10, "10 frames of a 4-frame video")
    numbers = [read_frame_number(f.input) or 0 for f in frames.all()]
    assert set(numbers) <= {0, 1, 2, 3}, numbers
    assert any(later < earlier for earlier, later in pairwise(numbers)), numbers
    assert engine.state is PreviewState.PLAYING


class FailingSource(FrameSource):
    """Gives ``good`` solid frames, then fails like an unplugged camera."""

    name = "flaky"
    live = True

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good
        self.closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        source = solid()
        for n in range(self.good):
            yield Frame(source.render(n), n, n / 30)
        raise SourceError("camera 7 stopped giving frames")

    def close(self) -> None:
        self.closed.set()


def test_a_source_error_pauses_with_the_reason(make_engine: MakeEngine) -> None:
    source = FailingSource(good=3)
    engine = make_engine(GreenTint(), source)
    engine.play()
    wait_for(lambda: engine.state is PreviewState.PAUSED, "the preview to pause")
    stats = engine.stats()
    assert stats.message == "paused: camera 7 stopped giving frames"
    assert stats.state == "paused"
    engine.play()  # retry: the source starts over, then fails again
    wait_for(lambda: engine.stats().frames >= 4, "frames after a retry")
    wait_for(lambda: engine.state is PreviewState.PAUSED, "the preview to pause again")


def test_set_source_switches_and_closes_the_old(make_engine: MakeEngine) -> None:
    first = FailingSource(good=10_000)
    engine = make_engine(GreenTint(boost=80), first)
    engine.play()
    frame_with(engine, "a first frame", lambda f: f.output is not None)
    with pytest.raises(SourceError, match="not found"):
        engine.set_source("/nonexistent/clip.mp4")
    assert engine.source is first
    engine.set_source(solid((100, 0, 0)))
    assert first.closed.is_set()
    frame_with(engine, "the new source", lambda f: pixel(f.input) == (100, 0, 0))
    assert engine.source.describe() == "synthetic solid 320x240 @ 30 fps"
    engine.set_source("synthetic:checker")
    frame_with(
        engine, "checker frames", lambda f: pixel(f.input) in {(35, 35, 35), (220, 220, 220)}
    )


def test_stop_is_final_idempotent_and_releases_everything(make_engine: MakeEngine) -> None:
    processor = Lifecycle()
    source = FailingSource(good=10_000)
    engine = make_engine(processor, source)
    engine.play()
    wait_for(lambda: engine.stats().frames >= 3, "3 frames")
    engine.stop()
    engine.stop()
    assert engine.state is PreviewState.STOPPED
    assert processor.calls == ["initialize", "shutdown"]
    assert source.closed.is_set()
    stats = engine.stats()
    assert stats.state == "stopped"
    assert stats.message == "stopped"
    assert stats.frames >= 3
    assert engine.latest() is not None
    frames = stats.frames
    threading.Event().wait(0.2)
    assert engine.stats().frames == frames
    with pytest.raises(RuntimeStateError, match="cannot play: the preview is stopped"):
        engine.play()
    for call in (engine.step, lambda: engine.swap(GreenTint()), lambda: engine.update_params({})):
        with pytest.raises(RuntimeStateError, match="stopped"):
            call()
    engine.pause()  # harmless


def test_a_raising_callback_is_logged_and_unsubscribe_works(
    make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(GreenTint())
    seen = Frames()

    def boom(frame: PreviewFrame) -> None:
        raise RuntimeError("widget gone")

    engine.on_frame(boom)
    unsubscribe = engine.on_frame(seen)
    engine.play()
    wait_for(lambda: len(seen.all()) >= 3, "frames despite a raising callback")
    unsubscribe()
    count = len(seen.all())
    threading.Event().wait(0.3)
    assert len(seen.all()) <= count + 1  # at most one already being delivered
    assert engine.stats().frames > count
    assert any("on_frame callback raised" in r.message for r in caplog.records)


def test_play_reports_a_failing_initialize(make_engine: MakeEngine) -> None:
    class Broken(GreenTint):
        def initialize(self) -> None:  # type: ignore[override]
            raise OSError("weights.bin missing")

    engine = make_engine(Broken())
    with pytest.raises(OSError, match=r"weights\.bin missing"):
        engine.play()
    assert engine.state is PreviewState.IDLE
    assert "Broken.initialize() raised OSError: weights.bin missing" in engine.stats().message
    engine.swap(GreenTint())
    engine.play()
    wait_for(lambda: engine.stats().frames >= 1, "frames after swapping in a good processor")


def test_bad_arguments() -> None:
    with pytest.raises(SourceError, match="even"):
        PreviewEngine(GreenTint(), solid(), size=(321, 240))
    with pytest.raises(ContractError):
        PreviewEngine(object(), solid())
    from byoc_lab import ByocLabError

    with pytest.raises(ByocLabError, match="frame_timeout"):
        PreviewEngine(GreenTint(), solid(), frame_timeout=0)


async def test_async_twins(make_engine: MakeEngine) -> None:
    engine = make_engine(GreenTint(boost=80))
    frame = await engine.astep()
    assert frame is not None
    assert pixel(frame.output) == green_boosted(80)
    assert await engine.aupdate_params({"boost": 10}) == {"boost": 10}
    assert await engine.aswap(BlueTint()) == {"boost": 10}
    await engine.aplay()
    await engine.apause()
    frame = await engine.astep()
    assert frame is not None
    assert pixel(frame.output) == (10, 20, 40)
    await engine.aset_source(solid((0, 0, 0)))
    frame = await engine.astep()
    assert frame is not None
    assert pixel(frame.output) == (0, 0, 10)
    await engine.astop()
    assert engine.state is PreviewState.STOPPED


def test_a_slow_processor_skips_source_frames_latest_wins(make_engine: MakeEngine) -> None:
    class Slow(GreenTint):
        def process(self, frame: RGBImage) -> RGBImage:
            threading.Event().wait(0.15)
            return super().process(frame)

    engine = make_engine(Slow(), solid(fps=60))
    frames = Frames()
    engine.on_frame(frames)
    engine.play()
    wait_for(lambda: engine.stats().skipped > 0 and len(frames.all()) >= 3, "skipped frames")
    indices = [f.index for f in frames.all()]
    assert any(b - a > 1 for a, b in pairwise(indices)), indices
    assert all(pixel(f.output) == green_boosted(80) for f in frames.all())


def test_a_frame_without_output_has_no_output_jpeg() -> None:
    image = solid().render(3)
    frame = PreviewFrame(seq=1, index=3, input=image, output=None, process_ms=None, error="x")
    assert frame.output_jpeg() is None
    assert not frame.ok
    assert frame.input_jpeg()[:2] == b"\xff\xd8"
