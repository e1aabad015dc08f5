"""A media stream written into consecutive trickle segments, one per GOP.

:class:`SegmentedOutput` is how the worker publishes its output video and how the
client publishes a stream's input: bytes leave as soon as they are encoded, a chunk
that starts with a keyframe opens the next segment, and a segment whose upload breaks
costs that segment's remaining frames, not the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from byoc_lab.errors import (
    StreamClosedError,
    StreamNotFoundError,
    TrickleError,
    TrickleTimeoutError,
)
from byoc_lab.trickle import SegmentWriter, TricklePublisher

__all__ = ["SegmentedOutput"]

logger = logging.getLogger(__name__)


class SegmentedOutput:
    """Writes a media stream into consecutive segments of one publisher.

    Bytes go out as soon as :meth:`write` gets them; ``new_segment=True`` (a chunk that
    starts with a keyframe) completes the current segment and opens the next.

    A segment whose upload breaks (the connection dropped, the server refused it) is
    lost, not the stream: ``on_lost(seq, error)`` is called, the rest of that segment's
    bytes are dropped (:attr:`dropping` is True meanwhile, since without its keyframe
    nobody could decode them) and the next keyframe opens a new segment. A channel that
    is gone (404) or closed, a server that takes no data, or more than ``max_lost``
    lost segments in a row raise the publisher's error.

    Args:
        publisher: the open publisher to write to.
        on_lost: told about each lost segment (on the loop; must not raise).
        max_lost: lost segments in a row before giving up.
    """

    def __init__(
        self,
        publisher: TricklePublisher,
        *,
        on_lost: Callable[[int, TrickleError], None] | None = None,
        max_lost: int = 3,
    ) -> None:
        self._publisher = publisher
        self._context: Any = None
        self._segment: SegmentWriter | None = None
        self._on_lost = on_lost
        self._max_lost = max_lost
        self._in_a_row = 0
        self.dropping = False
        self.lost = 0

    async def write(self, data: bytes, *, new_segment: bool) -> bool:
        """Write ``data``, first opening a new segment if asked; True if one was opened.

        While :attr:`dropping`, bytes that do not start a segment are discarded.
        """
        if self.dropping and not new_segment:
            return False
        opened = new_segment or self._segment is None
        if opened:
            await self.end()
            self.dropping = False
            self._context = self._publisher.segment()
            self._segment = await self._context.__aenter__()
        segment = self._segment
        assert segment is not None
        try:
            await segment.write(data)
        except TrickleError as exc:
            await self.abort(exc)
            self._lost(segment.seq, exc)
            self.dropping = True
        return opened

    async def end(self) -> None:
        """Complete the current segment (waits for the server's answer)."""
        context, self._context, segment = self._context, None, self._segment
        self._segment = None
        if context is None or segment is None:
            return
        try:
            await context.__aexit__(None, None, None)
        except TrickleError as exc:
            self._lost(segment.seq, exc)
        else:
            self._in_a_row = 0

    async def abort(self, exc: BaseException) -> None:
        """Drop the current segment because of ``exc``."""
        context, self._context, self._segment = self._context, None, None
        if context is not None:
            await context.__aexit__(type(exc), exc, exc.__traceback__)

    def _lost(self, seq: int, exc: TrickleError) -> None:
        fatal = isinstance(exc, StreamNotFoundError | StreamClosedError | TrickleTimeoutError)
        if fatal or self._in_a_row >= self._max_lost:
            raise exc
        self._in_a_row += 1
        self.lost += 1
        logger.info("trickle %s: segment %d lost: %s", self._publisher.url, seq, exc)
        if self._on_lost is not None:
            self._on_lost(seq, exc)
