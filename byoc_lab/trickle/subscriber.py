"""Subscribe to a trickle channel and read each segment while it is still arriving.

:class:`TrickleSubscriber` follows a channel the way go-livepeer's and pytrickle's
subscribers do: it asks for ``start_seq`` (``-2``, the current segment, by default),
then for ``Lp-Trickle-Seq + 1`` after every answer, jumps to ``Lp-Trickle-Latest`` when
it fell out of the window (470), and stops at ``Lp-Trickle-Closed``. While one segment
is being read, the GET for the next one is already waiting on the server.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

import aiohttp

from byoc_lab.errors import (
    ParamError,
    StreamNotFoundError,
    TrickleError,
    TrickleTimeoutError,
)

from .client import RetryPolicy, status_error, tls_error
from .reading import TrickleSegment
from .wire import (
    HEADER_CLOSED,
    HEADER_LATEST,
    HEADER_SEQ,
    SEQ_CURRENT,
    SEQ_NEXT,
    STATUS_SEGMENT_NOT_FOUND,
    parse_seq,
    segment_url,
)

__all__ = ["TrickleSegment", "TrickleSubscriber"]

logger = logging.getLogger(__name__)


class _Kind(enum.Enum):
    """What one GET answered, from the subscriber's point of view."""

    SEGMENT = "segment"  # a segment with at least one byte: hand it out
    CLOSED = "closed"  # Lp-Trickle-Closed: end of stream
    EMPTY = "empty"  # 200 with no body (go-livepeer): skip to seq + 1
    NOT_FOUND = "not found"  # 404: retry, the channel may be about to exist
    BEHIND = "behind"  # 470: jump to Lp-Trickle-Latest
    UNAVAILABLE = "unavailable"  # connection error or 5xx: retry
    REFUSED = "refused"  # any other status: fail now


@dataclass(frozen=True)
class _Answer:
    kind: _Kind
    seq: int | None = None
    segment: TrickleSegment | None = None
    status: int | None = None
    error: Exception | None = None


class TrickleSubscriber:
    """Follows one trickle channel; ``async for segment in subscriber`` yields segments.

    Iteration ends cleanly when the channel closes. The subscriber is an async context
    manager; leaving it (or :meth:`close`) cancels the waiting GET and drops the
    segment being read.

    Args:
        session: the HTTP session to use; the caller owns and closes it.
        channel_url: the channel, e.g. ``https://orch:8935/ai/trickle/abc``.
        start_seq: the first segment to ask for: a number, ``-1`` (the next one to be
            written) or ``-2`` (the one being written now; pytrickle's default).
        retry: bounds on retries and waits.

    Iteration raises:
        StreamNotFoundError: the channel still answers 404 after ``retry.attempts`` tries.
        TrickleTimeoutError: no segment started within ``retry.wait_timeout``, or the
            server stayed unreachable for ``retry.attempts`` tries.
        TrickleHTTPError: the server answered an unexpected status.
    After an error the subscriber can be iterated again; it resumes where it was.

    Attributes:
        skipped: segments jumped over because the server no longer had them when
            asked (470: the reader fell out of the window); their bytes were never read.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        channel_url: str,
        *,
        start_seq: int = SEQ_CURRENT,
        retry: RetryPolicy | None = None,
    ) -> None:
        if start_seq < SEQ_CURRENT:
            raise ParamError(f"start_seq must be -2, -1 or a segment number, not {start_seq}")
        self.session = session
        self.url = channel_url.rstrip("/")
        self.retry = retry if retry is not None else RetryPolicy()
        self._next_seq = start_seq
        self._pending: asyncio.Task[TrickleSegment | None] | None = None
        self._current: TrickleSegment | None = None
        self._ended = False
        self._closed = False
        self.skipped = 0

    @property
    def seq(self) -> int:
        """The segment number (or sentinel) the subscriber will ask for next."""
        return self._next_seq

    async def __aenter__(self) -> TrickleSubscriber:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> TrickleSubscriber:
        return self

    async def __anext__(self) -> TrickleSegment:
        segment = await self.next_segment()
        if segment is None:
            raise StopAsyncIteration
        return segment

    async def next_segment(self) -> TrickleSegment | None:
        """The next segment once its first byte has arrived; None at end of stream.

        Closes the previously returned segment. Raises as iteration does.
        """
        if self._ended or self._closed:
            return None
        if self._current is not None:
            self._current.close()
            self._current = None
        task = self._pending if self._pending is not None else self._spawn(self._next_seq)
        self._pending = None
        segment = await task
        if segment is None:
            self._ended = True
            return None
        self._next_seq = segment.seq + 1
        self._current = segment
        self._pending = self._spawn(self._next_seq)  # preconnect the next GET
        return segment

    async def close(self) -> None:
        """Cancel the waiting GET and drop the current segment; idempotent."""
        self._closed = True
        if self._current is not None:
            self._current.close()
            self._current = None
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})
            if not pending.cancelled() and pending.exception() is None:
                segment = pending.result()
                if segment is not None:
                    segment.close()

    def _spawn(self, seq: int) -> asyncio.Task[TrickleSegment | None]:
        return asyncio.create_task(self._open(seq), name=f"trickle-get {self.url}/{seq}")

    async def _open(self, seq: int) -> TrickleSegment | None:
        """GET ``seq`` until a segment starts, following 470s and skipping empty ones."""
        attempt = 1
        while True:
            answer = await self._ask(seq)
            if answer.kind is _Kind.SEGMENT:
                return answer.segment
            if answer.kind is _Kind.CLOSED:
                logger.debug("trickle %s: closed at %d", self.url, seq)
                return None
            if answer.kind is _Kind.EMPTY and answer.seq is not None:
                seq = answer.seq + 1
                continue
            if answer.kind is _Kind.REFUSED and answer.error is not None:
                raise answer.error
            if attempt >= self.retry.attempts:
                raise self._exhausted(answer, seq, attempt)
            attempt += 1
            if answer.kind is _Kind.BEHIND and answer.seq is not None and answer.seq != seq:
                logger.debug(
                    "trickle %s: %d left the window, jumping to %d", self.url, seq, answer.seq
                )
                if 0 <= seq < answer.seq:
                    self.skipped += answer.seq - seq
                seq = answer.seq
                continue
            await asyncio.sleep(self.retry.delay)

    async def _ask(self, seq: int) -> _Answer:
        """One GET, up to the segment's first byte (bounded by ``wait_timeout``)."""
        url = segment_url(self.url, seq)
        try:
            async with asyncio.timeout(self.retry.wait_timeout):
                response = await self.session.get(url, timeout=self.retry.client_timeout())
                try:
                    return await self._classify(response, seq)
                except BaseException:
                    response.close()
                    raise
        except aiohttp.ClientSSLError as exc:
            raise tls_error(url, exc) from exc
        except aiohttp.ClientError as exc:  # includes aiohttp's own connect timeouts
            logger.debug("trickle %s: %r", url, exc)
            return _Answer(_Kind.UNAVAILABLE, error=exc)
        except TimeoutError as exc:
            raise TrickleTimeoutError(
                f"no trickle segment started within {self.retry.wait_timeout} s",
                url=url,
                fix="check that something publishes to the channel, or raise wait_timeout",
            ) from exc

    async def _classify(self, response: aiohttp.ClientResponse, seq: int) -> _Answer:
        headers = response.headers
        if HEADER_CLOSED in headers:
            response.release()
            return _Answer(_Kind.CLOSED)
        status = response.status
        if status == HTTPStatus.NOT_FOUND:
            response.release()
            return _Answer(_Kind.NOT_FOUND, status=status)
        if status == STATUS_SEGMENT_NOT_FOUND:
            latest = parse_seq(headers.get(HEADER_LATEST))
            response.release()
            return _Answer(_Kind.BEHIND, seq=latest if latest is not None else SEQ_NEXT)
        if status != HTTPStatus.OK:
            body = await response.text(errors="replace")
            error = status_error(status, headers, str(response.url), body, doing="subscribe")
            kind = (
                _Kind.UNAVAILABLE if status >= HTTPStatus.INTERNAL_SERVER_ERROR else _Kind.REFUSED
            )
            return _Answer(kind, status=status, error=error)
        actual = parse_seq(headers.get(HEADER_SEQ))
        if actual is None or actual < 0:
            response.close()
            raise TrickleError(
                f"the server answered segment {seq} without a valid {HEADER_SEQ} header",
                url=str(response.url),
                fix="check that the URL points at a trickle channel",
            )
        first = await response.content.readany()
        if not first:
            response.release()
            logger.debug("trickle %s: segment %d is empty, skipping it", self.url, actual)
            return _Answer(_Kind.EMPTY, seq=actual)
        segment = TrickleSegment(
            response,
            first,
            actual,
            self.retry.read_timeout,
            reopen=self._reopen,
            attempts=self.retry.attempts,
            delay=self.retry.delay,
        )
        return _Answer(_Kind.SEGMENT, seq=actual, segment=segment)

    async def _reopen(self, seq: int) -> aiohttp.ClientResponse:
        """A new GET of segment ``seq`` (a segment whose connection dropped resumes on it)."""
        url = segment_url(self.url, seq)
        return await self.session.get(url, timeout=self.retry.client_timeout())

    def _exhausted(self, answer: _Answer, seq: int, attempts: int) -> Exception:
        url = segment_url(self.url, seq)
        if answer.kind is _Kind.NOT_FOUND:
            return StreamNotFoundError(
                f"trickle channel {self.url} does not exist ({attempts} tries)",
                url=url,
                fix="check the URL; the channel may have been deleted",
            )
        if answer.status is not None and answer.error is not None:
            return answer.error  # a 5xx that persisted: the TrickleHTTPError of the last try
        error = TrickleTimeoutError(f"no usable answer from {url} after {attempts} tries", url=url)
        error.__cause__ = answer.error
        return error
