"""Counters, rates and latency of a live stream session, and rate-limited error reports.

Everything here is updated on the event loop only (the pipeline's threads hand their
counts back to the loop), so nothing needs a lock. Every window is bounded.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ErrorReporter", "LatencyWindow", "RateMeter", "SessionStats", "now_ms"]


def now_ms() -> int:
    """Wall-clock time in integer milliseconds, as pytrickle's events carry it."""
    return int(time.time() * 1000)


class RateMeter:
    """Events per second over the last ``window`` seconds (at most ``max_samples`` kept)."""

    def __init__(self, window: float = 5.0, max_samples: int = 600) -> None:
        self.window = window
        self._times: deque[float] = deque(maxlen=max_samples)

    def tick(self, now: float | None = None) -> None:
        """Record one event (a frame) at ``now`` (``time.monotonic()`` by default)."""
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        """Events per second over the window ending at ``now``; 0.0 without two samples."""
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return round((len(self._times) - 1) / span, 2) if span > 0 else 0.0


class LatencyWindow:
    """The last ``size`` latencies in milliseconds, with p50/p95 over them."""

    def __init__(self, size: int = 300) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, ms: float) -> None:
        """Record one latency in milliseconds."""
        self._samples.append(ms)

    def summary(self) -> dict[str, float | None]:
        """``{"last", "p50", "p95"}`` in ms (None before the first sample)."""
        if not self._samples:
            return {"last": None, "p50": None, "p95": None}
        ordered = sorted(self._samples)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return {
            "last": round(self._samples[-1], 2),
            "p50": round(statistics.median(ordered), 2),
            "p95": round(p95, 2),
        }


@dataclass
class SessionStats:
    """What a session counted so far; :meth:`snapshot` is the JSON form.

    Attributes:
        frames_in: video frames decoded from the input (numbered from 0 in this order).
        frames_dropped: input frames skipped by ``max_framerate``.
        frames_processed: frames that went through ``process()`` (or were passed
            through after an error).
        frames_out: frames encoded into the output.
        audio_in: audio packets read from the input.
        audio_out: audio packets copied into the output.
        segments_in: input segments started.
        segments_out: output segments published.
        errors: errors by kind (``process``, ``decode``, ``encode``, ``data``,
            ``control``, ``params``, ``events``, ``input``, ``output``).
        input_size: ``(width, height)`` of the last decoded frame.
        frame_size: ``(width, height)`` of the last frame given to the processor.
        output_size: ``(width, height)`` of the last frame encoded.
    """

    frames_in: int = 0
    frames_dropped: int = 0
    frames_processed: int = 0
    frames_out: int = 0
    audio_in: int = 0
    audio_out: int = 0
    segments_in: int = 0
    segments_out: int = 0
    data_lines: int = 0
    events_sent: int = 0
    events_dropped: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    input_size: tuple[int, int] | None = None
    frame_size: tuple[int, int] | None = None
    output_size: tuple[int, int] | None = None
    fps_in: RateMeter = field(default_factory=RateMeter)
    fps_out: RateMeter = field(default_factory=RateMeter)
    audio_rate_in: RateMeter = field(default_factory=RateMeter)
    audio_rate_out: RateMeter = field(default_factory=RateMeter)
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    process_ms: LatencyWindow = field(default_factory=LatencyWindow)
    started: float = field(default_factory=time.monotonic)

    def fps(self) -> dict[str, float]:
        """Rates in pytrickle's heartbeat shape (``ingress_video_fps`` …)."""
        return {
            "ingress_video_fps": self.fps_in.rate(),
            "ingress_audio_fps": self.audio_rate_in.rate(),
            "egress_video_fps": self.fps_out.rate(),
            "egress_audio_fps": self.audio_rate_out.rate(),
        }

    def dimensions(self) -> dict[str, int | None]:
        """``{"width", "height"}`` of the frames the processor gets (None before any)."""
        size = self.frame_size or self.input_size
        return {"width": size[0] if size else None, "height": size[1] if size else None}

    def snapshot(self) -> dict[str, Any]:
        """Every counter, rate and latency summary as a JSON-able dict."""
        dims = self.dimensions()
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_processed": self.frames_processed,
            "frames_dropped": self.frames_dropped,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "audio_packets_in": self.audio_in,
            "audio_packets_out": self.audio_out,
            "segments_in": self.segments_in,
            "segments_out": self.segments_out,
            "data_lines": self.data_lines,
            "events_sent": self.events_sent,
            "events_dropped": self.events_dropped,
            "fps_in": self.fps_in.rate(),
            "fps_out": self.fps_out.rate(),
            "latency_ms": self.latency.summary(),
            "process_ms": self.process_ms.summary(),
            "width": dims["width"],
            "height": dims["height"],
            "input_width": self.input_size[0] if self.input_size else None,
            "input_height": self.input_size[1] if self.input_size else None,
            "output_width": self.output_size[0] if self.output_size else None,
            "output_height": self.output_size[1] if self.output_size else None,
            "uptime_s": round(time.monotonic() - self.started, 3),
        }


@dataclass
class _Batch:
    message: str
    frames: list[int] = field(default_factory=list)
    count: int = 0
    first_at: float = 0.0


class ErrorReporter:
    """Turns per-frame errors into at most one ``error`` event per kind per ``interval``.

    The first error of a kind is reported at once; the ones that follow within
    ``interval`` seconds are gathered and reported together by :meth:`due` (called
    periodically) or by the next error after the interval. Each event lists the frame
    numbers concerned (at most ``max_frames``; ``count`` says how many there were).

    Event shape: ``{"type": "error", "error_type": kind, "message": str, "frame": int |
    None, "frames": [int, ...], "count": int, "total": int, "timestamp": ms}``.
    """

    def __init__(self, interval: float = 1.0, max_frames: int = 100) -> None:
        self.interval = interval
        self.max_frames = max_frames
        self.totals: Counter[str] = Counter()
        self._last_sent: dict[str, float] = {}
        self._pending: dict[str, _Batch] = {}

    def add(
        self, kind: str, message: str, frame: int | None = None, now: float | None = None
    ) -> list[dict[str, Any]]:
        """Record one error; return the events to emit now (none while rate-limited)."""
        now = time.monotonic() if now is None else now
        self.totals[kind] += 1
        batch = self._pending.get(kind)
        if batch is None:
            batch = self._pending[kind] = _Batch(message, first_at=now)
        batch.message = message
        batch.count += 1
        if frame is not None and len(batch.frames) < self.max_frames:
            batch.frames.append(frame)
        if now - self._last_sent.get(kind, -1e18) >= self.interval:
            return [self._take(kind, now)]
        return []

    def due(self, now: float | None = None, *, force: bool = False) -> list[dict[str, Any]]:
        """Events for gathered errors whose interval has passed (all of them if ``force``)."""
        now = time.monotonic() if now is None else now
        ready = [
            kind
            for kind in self._pending
            if force or now - self._last_sent.get(kind, -1e18) >= self.interval
        ]
        return [self._take(kind, now) for kind in ready]

    def _take(self, kind: str, now: float) -> dict[str, Any]:
        batch = self._pending.pop(kind)
        self._last_sent[kind] = now
        return {
            "type": "error",
            "error_type": kind,
            "message": batch.message,
            "frame": batch.frames[0] if batch.frames else None,
            "frames": batch.frames,
            "count": batch.count,
            "total": self.totals[kind],
            "timestamp": now_ms(),
        }
