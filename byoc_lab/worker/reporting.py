"""What a stream tells the gateway: errors, heartbeats and status, on the events channel.

:class:`StreamReporter` counts errors and turns them into rate-limited ``error``
events, and builds the periodic events (:meth:`~StreamReporter.run_ticker`):

- ``heartbeat`` every ``heartbeat_interval`` (queue type ``stream_heartbeat``), in
  pytrickle's shape (``urls``, ``dimensions``, ``fps``) plus frame counters;
- ``status`` every ``status_interval``, shaped like ai-runner's status so that
  go-livepeer's gateway keeps serving it from ``/process/stream/{id}/status``.

Without an events channel everything is still counted and logged, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .channels import EventsChannel
from .stats import ErrorReporter, SessionStats, now_ms

__all__ = ["StreamReporter"]

logger = logging.getLogger(__name__)

_TICK = 0.25
"""Seconds between checks for due heartbeats, status events and gathered errors."""


class StreamReporter:
    """Counts, logs and sends one stream's events; on the event loop only.

    Args:
        stream_id: the stream id, put in every heartbeat and status event.
        urls: the stream's channel URLs by role (``subscribe``, ``publish``, …).
        stats: the session's counters.
        events: the events channel, or None.
        error_interval: at most one ``error`` event per kind per this many seconds.
        describe: returns ``(state, processor name, current params)`` for status events.
    """

    def __init__(
        self,
        *,
        stream_id: str,
        urls: dict[str, str],
        stats: SessionStats,
        events: EventsChannel | None,
        error_interval: float,
        describe: Callable[[], tuple[str, str, dict[str, Any]]],
    ) -> None:
        self.stream_id = stream_id
        self.stats = stats
        self.events = events
        self._urls = urls
        self._errors = ErrorReporter(error_interval)
        self._describe = describe
        self._last_error: tuple[str, int] | None = None

    def emit(self, event: dict[str, Any], queue_event_type: str = "ai_stream_events") -> None:
        """Send ``event`` on the events channel (dropped without one)."""
        if self.events is not None:
            self.events.emit(event, queue_event_type)

    def report(self, kind: str, message: str, frame: int | None = None) -> None:
        """Count one error of ``kind``; send ``error`` events as the rate limit allows.

        ``frame`` is the input frame number concerned (None when not about a frame).
        The first error of a kind goes out at once and is logged at WARNING; later
        ones are gathered into the next event (logged at DEBUG).
        """
        self.stats.errors[kind] += 1
        self._last_error = (message, now_ms())
        events = self._errors.add(kind, message, frame)
        log = logger.warning if events else logger.debug
        log("stream %s: %s error: %s", self.stream_id, kind, message)
        for event in events:
            self.emit(event)

    def flush_errors(self, *, force: bool = False) -> None:
        """Send gathered errors whose interval has passed (all of them if ``force``)."""
        for event in self._errors.due(force=force):
            self.emit(event)

    def heartbeat_event(self) -> dict[str, Any]:
        """A heartbeat: pytrickle's keys plus ``request_id`` and ``frames``."""
        return {
            "type": "heartbeat",
            "timestamp": now_ms(),
            "request_id": self.stream_id,
            "urls": dict(self._urls),
            "dimensions": self.stats.dimensions(),
            "fps": self.stats.fps(),
            "frames": self.frame_counts(),
        }

    def status_event(self, state: str | None = None) -> dict[str, Any]:
        """A ``status`` event (``state`` overrides the session's current one)."""
        stats = self.stats
        current, processor, params = self._describe()
        last_error, last_error_time = self._last_error or (None, None)
        return {
            "type": "status",
            "timestamp": now_ms(),
            "request_id": self.stream_id,
            "state": state or current,
            "processor": processor,
            "inference_status": {
                "fps": stats.fps_out.rate(),
                "last_params": params,
                "last_error": last_error,
                "last_error_time": last_error_time,
            },
            "input_status": {"fps": stats.fps_in.rate()},
            "dimensions": stats.dimensions(),
            "frames": self.frame_counts(),
            "latency_ms": stats.latency.summary(),
        }

    def frame_counts(self) -> dict[str, int]:
        """``{"in", "out", "processed", "dropped", "errors"}`` so far."""
        stats = self.stats
        return {
            "in": stats.frames_in,
            "out": stats.frames_out,
            "processed": stats.frames_processed,
            "dropped": stats.frames_dropped,
            "errors": sum(stats.errors.values()),
        }

    async def run_ticker(self, heartbeat_interval: float, status_interval: float) -> None:
        """Send heartbeats, status events and gathered errors until cancelled (a task).

        The first heartbeat and status go out at once.
        """
        next_heartbeat = next_status = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_heartbeat:
                self.emit(self.heartbeat_event(), "stream_heartbeat")
                next_heartbeat = now + heartbeat_interval
            if now >= next_status:
                self.emit(self.status_event())
                next_status = now + status_interval
            self.flush_errors()
            await asyncio.sleep(_TICK)
