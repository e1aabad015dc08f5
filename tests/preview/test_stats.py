"""Preview statistics: rates over a window and process() percentiles."""

from __future__ import annotations

from byoc_lab.preview.stats import RateMeter, StatsRecorder


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_rate_meter_measures_a_window_and_decays() -> None:
    clock = Clock()
    meter = RateMeter(window=2.0, clock=clock)
    assert meter.rate() == 0.0
    for _ in range(61):
        meter.tick()
        clock.now += 1 / 30
    assert abs(meter.rate() - 30.0) < 1.0
    clock.now += 2.5
    assert meter.rate() == 0.0


def test_recorder_counts_and_percentiles_over_recent_frames() -> None:
    clock = Clock()
    recorder = StatsRecorder(clock=clock)
    for ms in range(1, 201):  # only the last 120 count: 81..200
        recorder.frame(float(ms), None)
        clock.now += 0.01
    recorder.frame(None, "ValueError: x (line 3 of the editor)", raised=True)
    recorder.frame(None, "process() did not return within 5.0 s on frame 9", timed_out=True)
    recorder.skip()
    stats = recorder.snapshot(state="playing", source="synthetic", message="ok")
    assert stats.frames == 202
    assert stats.errors == 1
    assert stats.timeouts == 1
    assert stats.skipped == 1
    assert stats.last_error == "process() did not return within 5.0 s on frame 9"
    assert stats.process_p50_ms == 140.5
    assert stats.process_p95_ms is not None
    assert 193 < stats.process_p95_ms < 195
    assert stats.state == "playing"
    assert stats.source == "synthetic"
    assert stats.message == "ok"
    assert "1 errors" in stats.summary()
    assert "p50 140.5 ms" in stats.summary()


def test_no_frames_no_percentiles() -> None:
    stats = StatsRecorder().snapshot(state="idle", source="s", message="m")
    assert stats.process_p50_ms is None
    assert stats.process_p95_ms is None
    assert stats.fps == 0.0
