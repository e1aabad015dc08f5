"""Publish segments to a trickle channel, streaming each one as it is written.

Like go-livepeer's and pytrickle's publishers, :class:`TricklePublisher` starts at
segment 0 and always has the *next* segment's POST already connected while the
current one is written, so a new segment costs no round trip. Each segment is one
chunked ``POST {channel}/{seq}``: bytes leave as soon as :meth:`SegmentWriter.write`
returns, and the server hands them to subscribers at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDictProxy

from byoc_lab.errors import (
    ParamError,
    RuntimeStateError,
    StreamClosedError,
    TrickleError,
    TrickleHTTPError,
    TrickleTimeoutError,
)

from .client import RetryPolicy, status_error, tls_error
from .wire import CONTENT_TYPE_MPEGTS, HEADER_CLOSED, HEADER_RESET, segment_url

__all__ = ["SegmentWriter", "TricklePublisher"]

logger = logging.getLogger(__name__)

_QUEUE_CHUNKS = 8
"""Chunks a segment may hold before :meth:`SegmentWriter.write` waits for the network."""

_GONE = frozenset({HTTPStatus.NOT_FOUND, HTTPStatus.BAD_REQUEST})
"""DELETE answers meaning "no such channel": go-livepeer says 400, others 404."""


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: str


class _Post:
    """One ``POST {channel}/{seq}``, connected at creation and fed through a queue.

    The request body is an async generator that first yields ``b""``, which makes
    aiohttp send the request headers at once: that is the preconnect. ``sent`` counts
    the bytes handed to aiohttp; chunks it never took stay in ``unsent`` so a retry
    can replay them.
    """

    def __init__(
        self, publisher: TricklePublisher, seq: int, replay: list[bytes | None] | None = None
    ) -> None:
        self.seq = seq
        self.url = segment_url(publisher.url, seq)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE_CHUNKS)
        self.sent = 0
        self.unsent: list[bytes | None] = []
        self._replay = list(replay) if replay else []
        headers: dict[str, str] = {hdrs.CONTENT_TYPE: publisher.mime}
        if publisher.reset_seq == seq:
            headers[HEADER_RESET] = "1"
        self.task = asyncio.create_task(
            self._run(publisher.session, headers, publisher.retry), name=f"trickle-post {self.url}"
        )

    async def _body(self) -> AsyncIterator[bytes]:
        yield b""
        while True:
            chunk = self._replay.pop(0) if self._replay else await self.queue.get()
            if chunk is None:
                return
            self.sent += len(chunk)
            yield chunk

    async def _run(
        self, session: aiohttp.ClientSession, headers: dict[str, str], retry: RetryPolicy
    ) -> _Answer:
        try:
            async with session.post(
                self.url, data=self._body(), headers=headers, timeout=retry.client_timeout()
            ) as response:
                async with asyncio.timeout(retry.read_timeout):
                    body = await response.text(errors="replace")
                return _Answer(response.status, response.headers, body)
        finally:
            self._drain()

    def _drain(self) -> None:
        """Move queued chunks to ``unsent``; wakes writers blocked on a full queue."""
        while not self.queue.empty():
            self.unsent.append(self.queue.get_nowait())

    def leftovers(self) -> list[bytes | None]:
        """Everything written to this POST that never reached aiohttp, in order."""
        self._drain()
        return self._replay + self.unsent

    async def cancel(self) -> None:
        """Abort the request (if still running) and collect its outcome quietly."""
        self.task.cancel()
        await asyncio.wait({self.task})
        if not self.task.cancelled():
            self.task.exception()  # mark retrieved: the caller is giving up on it


class SegmentWriter:
    """Writes one segment; handed out by :meth:`TricklePublisher.segment`.

    Attributes:
        seq: the segment's sequence number.
        bytes_written: bytes accepted by :meth:`write` so far.
    """

    def __init__(self, publisher: TricklePublisher, post: _Post) -> None:
        self.seq = post.seq
        self.bytes_written = 0
        self._publisher = publisher
        self._post = post
        self._attempt = 1
        self._finished = False
        self._end_queued = False

    async def write(self, data: bytes) -> None:
        """Send ``data`` as the next bytes of this segment.

        Returns once the bytes are queued for the connection; it waits (at most
        ``read_timeout``) while earlier bytes have not left yet.

        Raises:
            RuntimeStateError: the segment is already finished.
            StreamNotFoundError: the channel does not exist (after the retry policy).
            StreamClosedError: the channel was closed.
            TrickleHTTPError: the server refused the segment (e.g. 413, too large).
            TrickleTimeoutError: the server took no data for ``read_timeout`` seconds,
                or could not be reached within the retry policy.
            TrickleError: the connection broke after bytes were sent, or the server
                ended the segment early.
        """
        if self._finished:
            raise RuntimeStateError(f"segment {self.seq} is already finished; open a new one")
        if not data:
            return
        await self._enqueue(bytes(data))
        self.bytes_written += len(data)

    async def _enqueue(self, item: bytes | None) -> None:
        post = await self._usable()
        timeout = self._publisher.retry.read_timeout
        try:
            async with asyncio.timeout(timeout):
                await post.queue.put(item)
        except TimeoutError as exc:
            raise TrickleTimeoutError(
                f"segment {self.seq}: the server took no data for {timeout:g} s", url=post.url
            ) from exc

    async def _usable(self) -> _Post:
        """The POST to feed, after replacing a failed one if that is safe and allowed."""
        post = self._post
        while post.task.done():
            self._raise_unless_retryable(post)
            self._attempt += 1
            await asyncio.sleep(self._publisher.retry.delay)
            logger.debug("trickle %s: retry %d of an unsent segment", post.url, self._attempt)
            replay = post.leftovers()
            if self._end_queued and (not replay or replay[-1] is not None):
                replay.append(None)  # the old POST took the end marker; the new one needs it
            post = _Post(self._publisher, self.seq, replay)
            self._post = post
        return post

    def _raise_unless_retryable(self, post: _Post) -> None:
        """Raise the typed error for a POST that ended before its body did, or return."""
        if post.task.cancelled():
            raise TrickleError(f"segment {self.seq}: the upload was cancelled", url=post.url)
        exc = post.task.exception()
        exhausted = self._attempt >= self._publisher.retry.attempts
        if exc is not None:
            if post.sent > 0:
                raise TrickleError(
                    f"segment {self.seq}: connection lost after {post.sent} bytes", url=post.url
                ) from exc
            if isinstance(exc, aiohttp.ClientSSLError):
                raise tls_error(post.url, exc) from exc
            if not isinstance(exc, aiohttp.ClientConnectionError):
                raise TrickleError(f"segment {self.seq}: upload failed", url=post.url) from exc
            if exhausted:
                raise TrickleTimeoutError(
                    f"segment {self.seq}: no connection to the trickle server after "
                    f"{self._attempt} attempts",
                    url=post.url,
                ) from exc
            return
        answer = post.task.result()
        closed = HEADER_CLOSED in answer.headers
        if answer.status == HTTPStatus.OK and not closed:
            raise TrickleError(
                f"segment {self.seq}: the server ended the segment before the publisher did",
                url=post.url,
            )
        worth_retrying = answer.status == HTTPStatus.NOT_FOUND or answer.status >= 500
        if closed or post.sent > 0 or exhausted or not worth_retrying:
            raise status_error(
                answer.status, answer.headers, post.url, answer.body, doing="publish"
            )

    async def _finish(self) -> None:
        """End the body, wait for the server's answer, retry an unsent segment once more."""
        self._finished = True
        await self._enqueue(None)
        self._end_queued = True
        timeout = self._publisher.retry.read_timeout
        while True:
            post = self._post
            while not post.task.done():
                progress = post.sent
                await asyncio.wait({post.task}, timeout=timeout)
                if not post.task.done() and post.sent == progress:
                    await post.cancel()
                    raise TrickleTimeoutError(
                        f"segment {self.seq}: no answer within {timeout:g} s", url=post.url
                    )
            if not post.task.cancelled() and post.task.exception() is None:
                answer = post.task.result()
                if answer.status == HTTPStatus.OK and HEADER_CLOSED not in answer.headers:
                    logger.debug("trickle %s: published %d bytes", post.url, post.sent)
                    return
                if answer.status == HTTPStatus.OK:
                    raise StreamClosedError(
                        f"segment {self.seq} was published but the channel is now closed",
                        url=post.url,
                    )
            await self._usable()  # raises, or replays the unsent body on a new POST

    async def _abort(self, delete: bool) -> None:
        """Drop the segment: cut the upload and, if it was still running, DELETE it."""
        self._finished = True
        post = self._post
        running = not post.task.done()
        await post.cancel()
        if delete and running:
            await self._publisher.delete_segment(self.seq)


class TricklePublisher:
    """Publishes segments to one trickle channel; an async context manager.

    ``async with TricklePublisher(session, url) as pub:`` connects the first segment's
    POST; each ``async with pub.segment() as seg:`` block is one segment, and while
    it is open the next segment's POST is already connected. Segments are written one
    after the other (a second ``segment()`` waits for the first to end). A failed
    segment raises from its block; the publisher carries on with the next number.

    Args:
        session: the HTTP session to use; the caller owns and closes it.
        channel_url: the channel, e.g. ``https://orch:8935/ai/trickle/abc-out``.
        mime: Content-Type of every POST (go-livepeer always sends ``video/MP2T``; the
            channel's own type was fixed when it was created).
        start_seq: the first segment number (0, as go-livepeer and pytrickle).
        reset: send ``Lp-Trickle-Reset`` with the first segment, so the server closes
            older segments a previous publisher left open (a restart).
        retry: bounds on retries and waits.

    Raises:
        ParamError: ``start_seq`` is negative.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        channel_url: str,
        *,
        mime: str = CONTENT_TYPE_MPEGTS,
        start_seq: int = 0,
        reset: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        if start_seq < 0:
            raise ParamError(f"a publisher starts at a segment number >= 0, not {start_seq}")
        self.session = session
        self.url = channel_url.rstrip("/")
        self.mime = mime
        self.retry = retry if retry is not None else RetryPolicy()
        self.reset_seq = start_seq if reset else None
        self._next_seq = start_seq
        self._pending: _Post | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def seq(self) -> int:
        """The number the next segment will get."""
        return self._next_seq

    async def __aenter__(self) -> TricklePublisher:
        self._check_open()
        if self._pending is None:
            self._pending = _Post(self, self._next_seq)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def segment(self) -> AsyncIterator[SegmentWriter]:
        """Open the next segment; it is complete when the block exits normally.

        On normal exit the body ends and the server's answer is awaited. If the block
        raises, the upload is cut (subscribers get the bytes sent so far), the segment
        is deleted on the server (go-livepeer's "dropped segment"), and the exception
        propagates.

        Raises:
            RuntimeStateError: the publisher is closed.
            TrickleError: as :meth:`SegmentWriter.write`, raised on exit for an answer
                that arrives after the last write.
        """
        async with self._lock:
            self._check_open()
            post = self._pending if self._pending is not None else _Post(self, self._next_seq)
            self._next_seq = post.seq + 1
            self._pending = _Post(self, self._next_seq)
            writer = SegmentWriter(self, post)
            try:
                yield writer
            except asyncio.CancelledError:
                await writer._abort(delete=False)
                raise
            except BaseException:
                await writer._abort(delete=True)
                raise
            try:
                await writer._finish()
            except BaseException:
                await writer._abort(delete=False)
                raise

    async def publish(self, data: bytes) -> int:
        """Publish ``data`` as one whole segment and return its number.

        Raises:
            TrickleError: as :meth:`segment`.
        """
        async with self.segment() as seg:
            await seg.write(data)
        return seg.seq

    async def delete_segment(self, seq: int) -> None:
        """Ask the server to close segment ``seq`` (best effort; failures are logged)."""
        url = segment_url(self.url, seq)
        try:
            async with self.session.delete(url, timeout=self._short_timeout()) as response:
                await response.read()
                logger.debug("trickle %s: DELETE answered %d", url, response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.debug("trickle %s: DELETE failed: %r", url, exc)

    async def close(self, *, delete: bool = False) -> None:
        """Stop publishing: drop the preconnected POST and optionally delete the channel.

        Idempotent. The channel's owner (an orchestrator) normally deletes channels;
        pass ``delete=True`` when this publisher owns it. A channel that is already
        gone is not an error.

        Raises:
            TrickleHTTPError: the DELETE got an unexpected answer.
            TrickleError: the DELETE could not be sent.
        """
        if not self._closed:
            self._closed = True
            pending, self._pending = self._pending, None
            if pending is not None:
                await pending.cancel()
        if delete:
            await self._delete_channel()

    async def _delete_channel(self) -> None:
        try:
            async with self.session.delete(self.url, timeout=self._short_timeout()) as response:
                body = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TrickleError(f"cannot delete trickle channel {self.url}", url=self.url) from exc
        if response.status == HTTPStatus.OK or response.status in _GONE:
            return
        raise TrickleHTTPError(
            f"cannot delete trickle channel {self.url}: HTTP {response.status}",
            status=response.status,
            url=self.url,
            got=repr(body.strip()[:200]) if body.strip() else None,
        )

    def _short_timeout(self) -> aiohttp.ClientTimeout:
        bound = self.retry.connect_timeout + self.retry.read_timeout
        return aiohttp.ClientTimeout(total=bound, connect=self.retry.connect_timeout)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeStateError(
                f"the trickle publisher for {self.url} is closed",
                fix="create a new TricklePublisher",
            )
