"""Bounded hand-over from a stream's reader tasks to its consumers, and the text readers.

A :class:`Feed` sits between one reader task on byoc_lab's background loop (output
frames, data lines, events) and whoever iterates the stream handle, from any thread
or loop, through :meth:`Feed.get` run on that loop. It holds at most ``maxlen``
items: when the consumer does not keep up, the **oldest** item is dropped and
counted, so memory stays bounded and what a late reader sees is the newest output.

:func:`read_sse_data` follows a gateway's ``/process/stream/{id}/data`` (one
server-sent event per data line); :func:`read_events` follows a stream's events
trickle channel (one JSON document per segment).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import aiohttp

from byoc_lab.client.calls import server_message
from byoc_lab.errors import ByocLabError, JobError, JobTimeoutError, TrickleError
from byoc_lab.trickle import RetryPolicy, TrickleSubscriber

__all__ = [
    "DATA_QUEUE",
    "EVENTS_QUEUE",
    "FRAME_QUEUE",
    "Feed",
    "StreamCounts",
    "read_events",
    "read_sse_data",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

FRAME_QUEUE: Final = 30
"""Output frames held for a consumer by default (one second at 30 fps; ~28 MB at 640x480)."""

DATA_QUEUE: Final = 1024
"""Data lines held for a consumer (each under 64 KiB, as go-livepeer's gateway requires)."""

EVENTS_QUEUE: Final = 256
"""Events held for a consumer."""

_SSE_READ_BUFFER: Final = 256 * 1024
_EVENT_MAX: Final = 1024 * 1024


@dataclass
class StreamCounts:
    """What a stream handle counted besides its feeds (updated on the background loop).

    Attributes:
        frames_sent: input frames encoded and written to the input channel.
        segments_sent: input segments opened (one per keyframe).
        decode_errors: stretches of output the decoder could not read (it skips to the
            next keyframe).
        output_errors: output segments that broke off while being read.
        output_lost: output segments never read: the server no longer had them (the
            reader fell behind, or the segment was lost on the way: HTTP 470).
        input_errors: input segments whose upload broke; their remaining frames were
            dropped until the next keyframe (and are not in ``frames_sent``).
    """

    frames_sent: int = 0
    segments_sent: int = 0
    decode_errors: int = 0
    output_errors: int = 0
    output_lost: int = 0
    input_errors: int = 0


class Feed(Generic[T]):
    """Items from one reader task, for any number of consumers; each item goes to one.

    Use it on the loop that owns it. :meth:`put` never blocks (a full feed drops its
    oldest item and counts it in :attr:`dropped`); :meth:`close` ends it, with an
    error for the consumers if the reader failed. Consumers first get every item
    still held, then the error (raised once), then the end.

    Args:
        maxlen: items held at most (>= 1).
        what: what one item is, for the timeout message (``"output frame"``).
        stream_id: the stream, for messages.
    """

    def __init__(self, maxlen: int, *, what: str, stream_id: str) -> None:
        self._items: deque[T] = deque(maxlen=maxlen)
        self._what = what
        self._stream_id = stream_id
        self._wake = asyncio.Event()
        self._error: ByocLabError | None = None
        self.dropped = 0
        self.received = 0
        self.closed = False

    @property
    def maxlen(self) -> int:
        """Items held at most."""
        return self._items.maxlen or 0

    def put(self, item: T) -> None:
        """Hand ``item`` to the consumers; drop (and count) the oldest one when full."""
        if self.closed:
            return
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self.received += 1
        self._wake.set()

    def close(self, error: ByocLabError | None = None) -> None:
        """No more items; consumers get ``error`` (if any) after the held items. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._error = error
        self._wake.set()

    async def get(self, wait_s: float | None) -> T | None:
        """The next item; None once the feed is closed and empty.

        Raises:
            JobTimeoutError: nothing came within ``wait_s`` seconds (None: no limit).
            ByocLabError: the reader's error, once, after the held items.
        """
        try:
            async with asyncio.timeout(wait_s):
                while not self._items and not self.closed:
                    self._wake.clear()
                    await self._wake.wait()
        except TimeoutError:
            raise JobTimeoutError(
                f"no {self._what} from stream {self._stream_id} within {wait_s:g} s",
                fix="check that input is being published and the worker is running "
                "(status(), stats()); pass a longer timeout, or timeout=None to wait "
                "until the stream ends",
            ) from None
        if self._items:
            return self._items.popleft()
        error, self._error = self._error, None
        if error is not None:
            raise error
        return None


async def read_sse_data(
    http: aiohttp.ClientSession, url: str, feed: Feed[str], *, connect_timeout: float
) -> None:
    """Put the data of each server-sent event from ``url`` into ``feed`` until it ends.

    The stream ends at an ``end`` event (byoc_lab's gateway) or when the gateway closes
    the connection (go-livepeer, whose end event is mangled). Lines of several ``data:``
    fields in one event are joined with newlines, as the SSE standard says. Only the
    TCP/TLS connect is bounded: go-livepeer sends the answer's headers with the first
    data line, which may come much later; the owner cancels the reader at stop.

    Raises:
        JobError: the gateway refused (404: no such stream; 503: the stream was started
            without data output), or could not be reached.
    """
    timeout = aiohttp.ClientTimeout(
        total=None, connect=connect_timeout, sock_connect=connect_timeout
    )
    try:
        response = await http.get(url, read_bufsize=_SSE_READ_BUFFER, timeout=timeout)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise JobError(f"cannot open the stream's data at {url} ({exc!r})", url=url) from exc
    async with response:
        if response.status != 200:
            text = await response.text(errors="replace")
            raise JobError(
                f"the gateway refused the stream's data at {url}: HTTP {response.status}: "
                f"{server_message(text)}",
                status=response.status,
                url=url,
                text=text,
            )
        async for data in _sse_events(response):
            feed.put(data)


async def _sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    lines: list[str] = []
    event = ""
    while True:
        try:
            raw = await response.content.readline()
        except (aiohttp.ClientError, ValueError) as exc:
            logger.debug("data stream %s broke off: %r", response.url, exc)
            return
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\n").removesuffix("\r")
        if not line:
            if event == "end" or event.startswith("end\\"):
                return  # byoc_lab's end event; go-livepeer's comes with literal "\n"s
            if lines:
                yield "\n".join(lines)
            lines, event = [], ""
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            lines.append(value)
        elif name == "event":
            event = value


async def read_events(
    http: aiohttp.ClientSession, url: str, feed: Feed[dict[str, Any]], *, retry: RetryPolicy
) -> None:
    """Put each event of a stream's events channel into ``feed`` until the channel closes.

    Each segment is one JSON document, either pytrickle's wrapper
    ``{"event": {…}, "queue_event_type": …}`` or a bare event; the feed gets the event
    object. Segments that are not a JSON object, or over 1 MiB, are skipped.

    Raises:
        TrickleError: the channel cannot be followed (after ``retry``).
    """
    async with TrickleSubscriber(http, url, start_seq=0, retry=retry) as events:
        async for segment in events:
            body = bytearray()
            try:
                async for chunk in segment:
                    body += chunk
                    if len(body) > _EVENT_MAX:
                        segment.close()
                        break
            except TrickleError as exc:
                logger.debug("an event segment broke off: %s", exc)
                continue
            if len(body) > _EVENT_MAX:
                logger.debug("an event over %d bytes was skipped", _EVENT_MAX)
                continue
            try:
                document = json.loads(body)
            except ValueError:
                continue
            if isinstance(document, dict):
                inner = document.get("event")
                feed.put(dict(inner) if isinstance(inner, dict) else document)
