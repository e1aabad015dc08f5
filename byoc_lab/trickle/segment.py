"""One trickle segment held in memory: written once, read by many while it grows.

A :class:`Segment` belongs to the event loop that serves it; every method must be
called from that loop. Readers never copy the buffer: they remember how many chunks
they have sent and ask for the ones after that, so a subscriber that joins late gets
the whole segment and one that is early gets each chunk as soon as it is written.
"""

from __future__ import annotations

import asyncio

__all__ = ["Segment"]


class Segment:
    """The bytes of segment ``seq`` of one channel, plus the waiters for more of them.

    A segment is *fresh* until its first byte or its close. It is closed exactly once:
    when its publisher finishes, is cut off or exceeds the size limit, when it is
    deleted, when the ring slot is reused, or when the channel closes. After that no
    byte is added and every waiter wakes up.

    Attributes:
        seq: the segment's sequence number (never a sentinel).
        writer_attached: True while a POST is feeding (or preconnected to) this segment.
    """

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.writer_attached = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._closed = False
        self._wakeup = asyncio.Event()
        self._close_waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Segment {self.seq} {state} {self._size} bytes in {len(self._chunks)} chunks>"

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    @property
    def closed(self) -> bool:
        """True once the segment has ended; its bytes stay readable."""
        return self._closed

    @property
    def fresh(self) -> bool:
        """True while nothing was written and the segment is still open."""
        return not self._closed and self._size == 0

    def write(self, data: bytes) -> bool:
        """Append ``data`` and wake every reader; False (nothing stored) once closed."""
        if self._closed:
            return False
        if data:
            self._chunks.append(data)
            self._size += len(data)
            self._wake()
        return True

    def close(self) -> None:
        """End the segment; idempotent. Readers drain what is stored, then see the end."""
        if self._closed:
            return
        self._closed = True
        self._wake()
        for waiter in self._close_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._close_waiters.clear()

    def chunks_from(self, index: int) -> list[bytes]:
        """The chunks after the first ``index`` ones (a new list; may be empty)."""
        return self._chunks[index:]

    async def wait(self, index: int) -> None:
        """Return once more than ``index`` chunks exist or the segment is closed.

        It waits for as long as that takes; callers bound it (``asyncio.timeout``).
        """
        while len(self._chunks) <= index and not self._closed:
            await self._wakeup.wait()

    def closed_future(self) -> asyncio.Future[None]:
        """A future that completes when the segment closes (already done if it is).

        Meant for ``asyncio.wait`` next to other work; cancelling it is harmless.
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed:
            waiter.set_result(None)
        else:
            self._close_waiters.append(waiter)
        return waiter

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()
