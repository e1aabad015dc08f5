"""One trickle segment being read, and how a read survives a dropped connection.

A :class:`TrickleSegment` is what :class:`~byoc_lab.trickle.TrickleSubscriber` hands
out: the open response of one ``GET {channel}/{seq}``, read chunk by chunk as the
publisher writes. When the connection drops in the middle of the body (a proxy, NAT
or load balancer resets it), the segment asks the server for the same segment again
and skips the bytes it already handed out, so the reader goes on as if nothing
happened. That works while the server still holds the segment (the last five); when
it does not (470), is gone (404) or closed, the segment ends with a
:class:`~byoc_lab.errors.TrickleError` saying what was lost. go-livepeer's and
pytrickle's subscribers lose the rest of the segment instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus

import aiohttp
from aiohttp import hdrs

from byoc_lab.errors import TrickleError, TrickleTimeoutError

from .wire import CONTENT_TYPE_DEFAULT, HEADER_CLOSED, HEADER_LATEST, HEADER_SEQ, parse_seq

__all__ = ["Reopen", "TrickleSegment"]

logger = logging.getLogger(__name__)

Reopen = Callable[[int], Awaitable[aiohttp.ClientResponse]]
"""``reopen(seq)``: a new ``GET`` of segment ``seq`` of the same channel (its response)."""


class TrickleSegment:
    """One segment being received; iterate it for chunks as they arrive.

    Read it once, either with ``async for chunk in segment`` or ``await segment.read()``
    (which returns what iteration has not yet consumed). The segment owns its HTTP
    response until it is fully read or :meth:`close` is called; the subscriber closes
    the previous segment when it hands out the next one.

    Attributes:
        seq: the segment's sequence number (``Lp-Trickle-Seq``).
        latest: the server's write position when it answered, if it said
            (``Lp-Trickle-Latest``; present when this segment is not the newest).
        content_type: the channel's media type.
        url: the URL the segment was read from.
        resumed: how many times a dropped connection was re-opened mid-segment.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        first: bytes,
        seq: int,
        read_timeout: float,
        *,
        reopen: Reopen | None = None,
        attempts: int = 1,
        delay: float = 0.0,
    ) -> None:
        self.seq = seq
        self.latest = parse_seq(response.headers.get(HEADER_LATEST))
        self.content_type = response.headers.get(hdrs.CONTENT_TYPE, CONTENT_TYPE_DEFAULT)
        self.url = str(response.url)
        self.resumed = 0
        self._response = response
        self._first: bytes | None = first
        self._read_timeout = read_timeout
        self._reopen = reopen
        self._attempts = attempts
        self._delay = delay
        self._offset = 0  # bytes handed out so far
        self._done = False

    def __repr__(self) -> str:
        return f"<TrickleSegment {self.seq} {self.url}>"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self._next_chunk():
            yield chunk

    async def read(self) -> bytes:
        """All bytes of the segment not yet consumed, once it has ended.

        Raises:
            TrickleTimeoutError: no byte arrived for ``read_timeout`` seconds.
            TrickleError: the connection broke before the segment ended and the
                segment could not be read again.
        """
        parts = [chunk async for chunk in self]
        return b"".join(parts)

    def close(self) -> None:
        """Stop reading: drop the connection if the segment has not ended. Idempotent."""
        if not self._done:
            self._done = True
            self._first = None
            self._response.close()

    async def _next_chunk(self) -> bytes:
        if self._first is not None:
            chunk, self._first = self._first, None
        elif self._done:
            return b""
        else:
            chunk = await self._read_more()
        if not chunk:
            self._done = True
            self._response.release()
        self._offset += len(chunk)
        return chunk

    async def _read_more(self) -> bytes:
        try:
            async with asyncio.timeout(self._read_timeout):
                return await self._response.content.readany()
        except aiohttp.ClientError as exc:
            return await self._resume(exc)
        except TimeoutError as exc:
            self.close()
            raise TrickleTimeoutError(
                f"segment {self.seq}: no data for {self._read_timeout:g} s", url=self.url
            ) from exc

    async def _resume(self, cause: aiohttp.ClientError) -> bytes:
        """Read the segment again after a dropped connection; the next unread chunk."""
        self._response.close()
        why = "it cannot be read again"
        while self._reopen is not None and self.resumed < self._attempts:
            self.resumed += 1
            try:
                async with asyncio.timeout(self._read_timeout):
                    response = await self._reopen(self.seq)
                    problem = _not_resumable(response, self.seq)
                    if problem is not None:
                        response.release()
                        why = problem
                        break
                    self._response = response
                    chunk = await self._skip(self._offset)
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = f"reading it again failed: {exc!r}"
                await asyncio.sleep(self._delay)
                continue
            logger.info(
                "trickle %s: connection dropped after %d bytes of segment %d; resumed",
                self.url,
                self._offset,
                self.seq,
            )
            return chunk
        self._done = True
        raise TrickleError(
            f"segment {self.seq}: the connection broke after {self._offset} bytes, before "
            f"the segment ended, and {why}",
            url=self.url,
        ) from cause

    async def _skip(self, count: int) -> bytes:
        """Discard the first ``count`` bytes of the new response; the chunk after them."""
        while True:
            chunk = await self._response.content.readany()
            if len(chunk) > count or not chunk:
                return chunk[count:]
            count -= len(chunk)


def _not_resumable(response: aiohttp.ClientResponse, seq: int) -> str | None:
    """Why a new GET of segment ``seq`` cannot continue the old one (None if it can)."""
    headers = response.headers
    if HEADER_CLOSED in headers:
        return "the channel has closed"
    if response.status != HTTPStatus.OK:
        return f"the server no longer has it (HTTP {response.status})"
    if parse_seq(headers.get(HEADER_SEQ)) != seq:
        return f"the server answered segment {headers.get(HEADER_SEQ)} instead"
    return None
