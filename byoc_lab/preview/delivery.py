"""Latest-frame-wins delivery of preview frames to one browser view.

At most ``max_in_flight`` frames are in flight (sent, not yet acknowledged): the view
answers each frame it has drawn with an acknowledgement (its ``seq``), which frees a
place for the next one. Frames offered while every place is taken wait in a single
pending slot, where a newer frame replaces (and counts as dropped) an older one, so a
slow view shows the newest picture instead of a backlog. A frame whose acknowledgement
does not come within ``ack_timeout`` (a lost message, a closed tab) no longer holds
its place.

One in flight is the strictest bound on latency; two (what the notebook's FrameView
uses, as jupyter_rfb's ``max_buffered_frames`` does) overlaps one frame's round trip
through kernel, server and browser with the next one's, which doubles the displayed
rate when that round trip, not the processor, is the limit, at the cost of at most
one frame of extra delay.

Pure logic and a lock: no event loop, no widget; ``send`` does the transport.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from byoc_lab.preview.frame import PreviewFrame
from byoc_lab.preview.stats import RateMeter

__all__ = ["DeliveryStats", "FrameDelivery"]

_REMEMBERED = 16  # sent-but-unacknowledged frames remembered for late acknowledgements


@dataclass(frozen=True)
class DeliveryStats:
    """Counters of one :class:`FrameDelivery`.

    Attributes:
        sent: frames handed to ``send``.
        acked: frames the view acknowledged (drawn).
        dropped: frames replaced in the pending slot before they could be sent.
        display_fps: acknowledgements per second over the last ~2 s.
        in_flight: ``seq`` of the newest frame awaiting its acknowledgement, or None.
        expired: frames whose acknowledgement did not come within ``ack_timeout``.
        in_flight_count: how many frames await their acknowledgement.
    """

    sent: int
    acked: int
    dropped: int
    display_fps: float
    in_flight: int | None
    expired: int = 0
    in_flight_count: int = 0


class FrameDelivery:
    """Sends preview frames to one view, one at a time, the latest winning.

    Args:
        send: transmits one frame (e.g. a widget's custom message with its JPEGs);
            called outside the lock, from the thread that offered or acknowledged.
            An exception from it propagates to that caller; the frame still counts
            as in flight, so the next offer after ``ack_timeout`` sends again.
        ack_timeout: seconds after which an unacknowledged frame stops blocking.
        max_in_flight: frames sent and not yet acknowledged, at most (>= 1).
        clock: monotonic time in seconds (tests pass a fake one).

    Thread-safe: :meth:`offer` typically runs on the background loop's thread and
    :meth:`ack` on the kernel's main thread.
    """

    def __init__(
        self,
        send: Callable[[PreviewFrame], None],
        *,
        ack_timeout: float = 2.0,
        max_in_flight: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._send = send
        self._ack_timeout = ack_timeout
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: PreviewFrame | None = None
        self._in_flight: dict[int, float] = {}  # seq -> when sent, oldest first
        self._unacked: dict[int, float] = {}
        self._acks = RateMeter(clock=clock)
        self._sent = self._acked = self._dropped = self._expired = 0
        self._closed = False

    def offer(self, frame: PreviewFrame) -> None:
        """Send ``frame`` now if the view is free, else keep it as the pending one."""
        with self._lock:
            if self._closed:
                return
            if not self._has_room():
                if self._pending is not None:
                    self._dropped += 1
                self._pending = frame
                return
            if self._pending is not None:  # a newer frame than the pending one: send it
                self._dropped += 1
                self._pending = None
            self._mark_sent(frame)
        self._send(frame)

    def ack(self, seq: int) -> None:
        """The view drew frame ``seq``: send the pending frame, if any.

        Unknown, duplicate and stale acknowledgements are ignored, except that a
        late one for an expired frame still counts as drawn.
        """
        with self._lock:
            if self._unacked.pop(seq, None) is None:
                return
            self._acked += 1
            self._acks.tick()
            if self._in_flight.pop(seq, None) is None or not self._has_room():
                return
            frame, self._pending = self._pending, None
            if frame is None or self._closed:
                return
            self._mark_sent(frame)
        self._send(frame)

    def flush(self) -> None:
        """Send the pending frame if a frame in flight has expired (call it on a timer)."""
        with self._lock:
            if self._closed or self._pending is None or not self._has_room():
                return
            frame, self._pending = self._pending, None
            self._mark_sent(frame)
        self._send(frame)

    def stats(self) -> DeliveryStats:
        """The counters now."""
        with self._lock:
            return DeliveryStats(
                sent=self._sent,
                acked=self._acked,
                dropped=self._dropped,
                display_fps=self._acks.rate(),
                in_flight=next(reversed(self._in_flight), None),
                expired=self._expired,
                in_flight_count=len(self._in_flight),
            )

    def close(self) -> None:
        """Send nothing more (idempotent); a pending frame is discarded."""
        with self._lock:
            self._closed = True
            self._pending = None

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def _has_room(self) -> bool:
        """Under the lock: free the places of expired frames; True if one is free."""
        now = self._clock()
        for seq, sent_at in list(self._in_flight.items()):
            if now - sent_at < self._ack_timeout:
                break
            del self._in_flight[seq]
            self._expired += 1
        return len(self._in_flight) < self._max_in_flight

    def _mark_sent(self, frame: PreviewFrame) -> None:
        """Under the lock: ``frame`` is about to be sent."""
        now = self._clock()
        self._in_flight[frame.seq] = now
        self._sent += 1
        self._unacked[frame.seq] = now
        while len(self._unacked) > _REMEMBERED:
            del self._unacked[next(iter(self._unacked))]
