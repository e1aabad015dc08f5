"""Preview statistics: counters, frame rate over a window, ``process()`` percentiles."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["PreviewStats", "RateMeter", "StatsRecorder"]

FPS_WINDOW = 2.0
"""Seconds of history the frame rates are computed over."""

PERCENTILE_FRAMES = 120
"""How many recent ``process()`` durations the percentiles are computed over."""


@dataclass(frozen=True)
class PreviewStats:
    """A snapshot of a preview's state and counters.

    Attributes:
        state: the :class:`~byoc_lab.preview.engine.PreviewState` value.
        frames: frames handled (processed, failed, or passed through while hung).
        fps: frames handled per second over the last ~2 s (0 when none arrive).
        process_p50_ms: median ``process()`` time over the last ~120 frames.
        process_p95_ms: 95th percentile of the same.
        skipped: source frames never processed because processing fell behind
            (the latest frame wins).
        errors: frames whose ``process()`` raised.
        timeouts: frames whose ``process()`` exceeded the frame timeout.
        last_error: the most recent error line.
        source: the source's description.
        message: a human status line (the source's reason, "paused", why it stopped…).
    """

    state: str
    frames: int
    fps: float
    process_p50_ms: float | None
    process_p95_ms: float | None
    skipped: int
    errors: int
    timeouts: int
    last_error: str | None
    source: str
    message: str

    def summary(self) -> str:
        """One line for a status bar, e.g. ``30.0 fps · process p50 2.1 ms p95 3.4 ms``."""
        parts = [f"{self.fps:.1f} fps"]
        if self.process_p50_ms is not None and self.process_p95_ms is not None:
            parts.append(
                f"process p50 {self.process_p50_ms:.1f} ms p95 {self.process_p95_ms:.1f} ms"
            )
        parts.append(f"{self.skipped} skipped")
        if self.errors:
            parts.append(f"{self.errors} errors")
        if self.timeouts:
            parts.append(f"{self.timeouts} timeouts")
        return " · ".join(parts)


class RateMeter:
    """Events per second over a sliding window; not thread-safe (callers lock).

    Args:
        window: seconds of history kept.
        clock: monotonic time source (tests pass a fake one).
    """

    def __init__(self, window: float = FPS_WINDOW, clock: Callable[[], float] = time.monotonic):
        self._window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def tick(self) -> None:
        """Record one event now."""
        now = self._clock()
        self._times.append(now)
        self._trim(now)

    def rate(self) -> float:
        """Events per second over the window; decays to 0 when events stop."""
        now = self._clock()
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = now - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self._window:
            self._times.popleft()


class StatsRecorder:
    """Thread-safe counters behind :class:`PreviewStats` (written on the loop, read anywhere)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._rate = RateMeter(clock=clock)
        self._durations: deque[float] = deque(maxlen=PERCENTILE_FRAMES)
        self.frames = 0
        self.skipped = 0
        self.errors = 0
        self.timeouts = 0
        self.last_error: str | None = None

    def frame(
        self,
        process_ms: float | None,
        error: str | None,
        *,
        raised: bool = False,
        timed_out: bool = False,
    ) -> None:
        """Count one handled frame (``raised``: process() raised; ``timed_out``: it overran)."""
        with self._lock:
            self.frames += 1
            self._rate.tick()
            if process_ms is not None:
                self._durations.append(process_ms)
            if error is not None:
                self.last_error = error
            self.errors += raised
            self.timeouts += timed_out

    def skip(self) -> None:
        """Count one source frame replaced before it was processed."""
        with self._lock:
            self.skipped += 1

    def snapshot(self, *, state: str, source: str, message: str) -> PreviewStats:
        """The counters now, with the caller's state, source and message."""
        with self._lock:
            fps = self._rate.rate()
            durations = np.fromiter(self._durations, dtype=np.float64)
            p50 = p95 = None
            if durations.size:
                p50, p95 = (float(v) for v in np.percentile(durations, [50, 95]))
            return PreviewStats(
                state=state,
                frames=self.frames,
                fps=fps,
                process_p50_ms=p50,
                process_p95_ms=p95,
                skipped=self.skipped,
                errors=self.errors,
                timeouts=self.timeouts,
                last_error=self.last_error,
                source=source,
                message=message,
            )
