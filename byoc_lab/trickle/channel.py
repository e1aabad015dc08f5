"""A trickle channel: a ring of the last few segments and the write position.

The rules here are go-livepeer's (``trickle_server.go``): segment ``n`` lives in slot
``n % window``; a read of the next write position (or of 1 before anything was
written) creates the segment early so the reader can wait on it; the write position
moves to ``n + 1`` when the first byte of segment ``n`` arrives. Everything runs on the
server's event loop; nothing here does I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .segment import Segment
from .wire import SEQ_CURRENT, SEQ_NEXT

__all__ = ["Channel", "ChannelInfo", "ReadTarget"]


@dataclass(frozen=True)
class ChannelInfo:
    """A snapshot of one open channel, as :meth:`TrickleServer.channels` reports it.

    Attributes:
        name: the channel name (last path segment of its URL).
        mime: the Content-Type every segment is served with.
        next_seq: where the next segment will be written (``Lp-Trickle-Latest``).
        idle_s: seconds since the last segment started (or since creation).
    """

    name: str
    mime: str
    next_seq: int
    idle_s: float


@dataclass(frozen=True)
class ReadTarget:
    """What a GET resolved to: the segment (None if out of window) and the positions."""

    segment: Segment | None
    seq: int
    latest: int


class Channel:
    """The live state of one channel; owned and mutated by :class:`TrickleServer` only.

    Args:
        name: a validated channel name.
        mime: the Content-Type its segments are served with.
        window: how many segments to keep (go-livepeer: 5).
    """

    def __init__(self, name: str, mime: str, window: int) -> None:
        self.name = name
        self.mime = mime
        self.next_write = 0
        self.last_write = time.monotonic()
        self.closed = False
        self._slots: list[Segment | None] = [None] * window

    def info(self) -> ChannelInfo:
        """A snapshot for callers outside the server."""
        idle = time.monotonic() - self.last_write
        return ChannelInfo(self.name, self.mime, self.next_write, idle)

    def segment_at(self, seq: int) -> Segment | None:
        """Segment ``seq`` if it is still in the window, else None."""
        if seq < 0:
            return None
        segment = self._slots[seq % len(self._slots)]
        return segment if segment is not None and segment.seq == seq else None

    def segment_for_write(self, seq: int) -> Segment:
        """The segment a POST to ``seq`` (or :data:`SEQ_NEXT`) writes into.

        A fresh segment that no other POST feeds is reused, so subscribers already
        waiting on it (or a publisher's retry) carry on; anything else in the slot is
        closed and replaced. The caller marks the result ``writer_attached``.
        """
        if seq == SEQ_NEXT:
            seq = self.next_write
        existing = self.segment_at(seq)
        if existing is not None and existing.fresh and not existing.writer_attached:
            return existing
        return self._replace(seq)

    def segment_for_read(self, seq: int) -> ReadTarget:
        """Resolve a GET of ``seq``, :data:`SEQ_NEXT` or :data:`SEQ_CURRENT`.

        The segment at the write position (or segment 1 while nothing was written) is
        created on demand so the reader can wait for it; anything else outside the window
        resolves to ``segment=None`` (the server answers 470).
        """
        if seq == SEQ_NEXT:
            seq = self.next_write
        elif seq == SEQ_CURRENT:
            seq = max(self.next_write - 1, 0)
        segment = self.segment_at(seq)
        ahead = seq == self.next_write or (self.next_write == 0 and seq == 1)
        if segment is None and ahead and not self.closed:
            segment = self._replace(seq)
        return ReadTarget(segment, seq, self.next_write)

    def mark_written(self, segment: Segment) -> None:
        """Record that ``segment`` started (first byte) or ended empty: move the write head."""
        self.next_write = segment.seq + 1
        self.last_write = time.monotonic()

    def reset_before(self, seq: int) -> None:
        """Close every kept segment older than ``seq`` (``Lp-Trickle-Reset``)."""
        for segment in self._slots:
            if segment is not None and segment.seq < seq:
                segment.close()

    def close(self) -> None:
        """Close the channel and every kept segment, waking all readers and writers."""
        self.closed = True
        for segment in self._slots:
            if segment is not None:
                segment.close()

    def _replace(self, seq: int) -> Segment:
        slot = seq % len(self._slots)
        old = self._slots[slot]
        if old is not None:
            old.close()
        segment = Segment(seq)
        self._slots[slot] = segment
        return segment
