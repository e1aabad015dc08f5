"""The trickle channels of a live stream besides its input: events, data, control, output.

Formats are those of go-livepeer's gateway and pytrickle (wire doc §1.4, §2, §3.3):

- **events**: one JSON document per trickle segment, wrapped as pytrickle does:
  ``{"event": {"type": …, "timestamp": ms, …}, "queue_event_type": "ai_stream_events"}``
  (``"stream_heartbeat"`` for heartbeats). The gateway stops a stream that sends no
  event for 30 s and keeps ``type == "status"`` events for its ``/status`` endpoint.
- **data**: JSON lines (``application/jsonl``); the gateway turns each line into one
  server-sent event and cannot read a line of 64 KiB or more. Lines are batched into
  one segment per ``interval``; an empty segment every ``keepalive`` seconds keeps an
  otherwise silent channel from being closed by the trickle server's idle sweep.
- **control**: one JSON object per segment, read from the current segment (``-2``)
  on; ``{"keep": "alive"}`` is ignored; anything else is a parameter update.
- **output** (video): MPEG-TS written as it is encoded, one segment per GOP
  (:class:`~byoc_lab.worker.output.SegmentedOutput`, re-exported here); the media
  pipeline drives it.

Failures on these channels never end a stream: they are logged and counted (and, for
data and control, reported as ``error`` events).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp

from byoc_lab.errors import TrickleError
from byoc_lab.trickle import RetryPolicy, TricklePublisher, TrickleSubscriber
from byoc_lab.trickle.wire import CONTENT_TYPE_JSON, CONTENT_TYPE_JSONL, SEQ_CURRENT

from .output import SegmentedOutput
from .stats import SessionStats

__all__ = [
    "EVENTS_QUEUE",
    "KEEPALIVE",
    "MAX_DATA_LINE",
    "DataChannel",
    "EventsChannel",
    "SegmentedOutput",
    "delete_channel",
    "read_control",
]

logger = logging.getLogger(__name__)

EVENTS_QUEUE = 64
"""Events waiting to be published at most; beyond it the oldest is dropped (counted)."""

MAX_DATA_LINE = 64 * 1024 - 1
"""Bytes in one data line plus its newline must fit go's 64 KiB ``bufio.Scanner``."""

KEEPALIVE: dict[str, Any] = {"keep": "alive"}
"""The control channel's keepalive message (the gateway sends it every 10 s)."""

Problem = Callable[[str, str, int | None], None]
"""``report(kind, message, frame)``: count an error and turn it into an error event."""


class EventsChannel:
    """Publishes events to an events channel, one JSON document per segment.

    :meth:`emit` queues (never blocks, never raises for the channel); the :meth:`run`
    task publishes in order. A failed publish is logged and counted in
    ``stats.errors["events"]``; the next event tries again on a fresh segment.

    Args:
        http: the caller's client session.
        url: the events channel.
        retry: trickle client bounds.
        stats: where ``events_sent`` / ``events_dropped`` / errors are counted.
        max_queue: bound on waiting events (:data:`EVENTS_QUEUE`).
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        *,
        retry: RetryPolicy,
        stats: SessionStats,
        max_queue: int = EVENTS_QUEUE,
    ) -> None:
        self.url = url
        self._http = http
        self._retry = retry
        self._stats = stats
        self._queue: deque[bytes] = deque()
        self._max = max_queue
        self._wake = asyncio.Event()
        self._closing = False
        self._warned = False

    def emit(self, event: dict[str, Any], queue_event_type: str = "ai_stream_events") -> None:
        """Queue ``event`` (a dict with ``type``); on the event loop only."""
        event.setdefault("timestamp", int(time.time() * 1000))
        doc = {"event": event, "queue_event_type": queue_event_type}
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self._stats.events_dropped += 1
        self._queue.append(json.dumps(doc, default=str).encode())
        self._wake.set()

    def finish(self) -> None:
        """Let :meth:`run` return once every queued event is published."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """Publish queued events until :meth:`finish` and the queue is empty (a task)."""
        async with TricklePublisher(
            self._http, self.url, mime=CONTENT_TYPE_JSON, retry=self._retry
        ) as publisher:
            while True:
                while not self._queue:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                doc = self._queue.popleft()
                try:
                    await publisher.publish(doc)
                except TrickleError as exc:
                    self._stats.errors["events"] += 1
                    log = logger.debug if self._warned else logger.warning
                    log("cannot publish an event to %s: %s", self.url, exc)
                    self._warned = True
                else:
                    self._stats.events_sent += 1


class DataChannel:
    """Collects processor data as JSON lines and publishes them in batches.

    :meth:`offer` is the data sink (thread-safe, never blocks); :meth:`run` publishes
    whatever arrived once per ``interval`` as one segment, and an empty segment after
    ``keepalive`` seconds of silence. Pending lines are bounded by ``max_pending``
    bytes; an object that does not serialise, a line over :data:`MAX_DATA_LINE` bytes,
    or a full backlog is refused, counted and reported through ``report``.

    Args:
        http: the caller's client session.
        url: the data channel.
        retry: trickle client bounds.
        stats: where ``data_lines`` and errors are counted.
        report: called on the loop for each refused object.
        interval: seconds between batches.
        keepalive: seconds of silence before an empty keepalive segment.
        max_pending: bytes of lines waiting at most.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        *,
        retry: RetryPolicy,
        stats: SessionStats,
        report: Problem,
        interval: float = 0.25,
        keepalive: float = 25.0,
        max_pending: int = 1 << 20,
    ) -> None:
        self.url = url
        self.frame: int | None = None  # set by the pipeline around each process() call
        self._http = http
        self._retry = retry
        self._stats = stats
        self._report = report
        self._interval = interval
        self._keepalive = keepalive
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._lines: list[bytes] = []
        self._pending = 0
        self._problems: deque[tuple[str, int | None]] = deque(maxlen=64)
        self._refused = 0
        self._done = asyncio.Event()

    def offer(self, obj: Any) -> bool:
        """Accept ``obj`` as one JSON line; False (and a reported error) if refused."""
        frame = self.frame
        try:
            line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            return self._refuse(f"send_data() got an object that is not JSON: {exc}", frame)
        data = line.encode()
        if len(data) > MAX_DATA_LINE:
            return self._refuse(
                f"send_data() line of {len(data):,} bytes is too long: a data line must be "
                f"under 64 KiB ({MAX_DATA_LINE + 1:,} bytes with its newline)",
                frame,
            )
        with self._lock:
            if self._pending + len(data) + 1 > self._max_pending:
                full = f"data backlog of {self._max_pending:,} bytes is full"
                return self._refuse(f"send_data() dropped a line: the {full}", frame, locked=True)
            self._lines.append(data)
            self._pending += len(data) + 1
        return True

    def _refuse(self, message: str, frame: int | None, *, locked: bool = False) -> bool:
        if locked:
            self._problems.append((message, frame))
            self._refused += 1
        else:
            with self._lock:
                self._problems.append((message, frame))
                self._refused += 1
        return False

    def finish(self) -> None:
        """Let :meth:`run` publish what is pending and return."""
        self._done.set()

    async def run(self) -> None:
        """Publish batches until :meth:`finish` (a task); the last batch goes out first."""
        async with TricklePublisher(
            self._http, self.url, mime=CONTENT_TYPE_JSONL, retry=self._retry
        ) as publisher:
            quiet_since = time.monotonic()
            while True:
                finished = self._done.is_set()
                if not finished:
                    try:
                        async with asyncio.timeout(self._interval):
                            await self._done.wait()
                    except TimeoutError:
                        pass
                self._flush_problems()
                with self._lock:
                    lines, self._lines, self._pending = self._lines, [], 0
                now = time.monotonic()
                if lines:
                    body = b"\n".join(lines) + b"\n"
                    if await self._publish(publisher, body):
                        self._stats.data_lines += len(lines)
                    quiet_since = now
                elif now - quiet_since >= self._keepalive:
                    await self._publish(publisher, b"")
                    quiet_since = now
                if finished:
                    return

    async def _publish(self, publisher: TricklePublisher, body: bytes) -> bool:
        try:
            await publisher.publish(body)
        except TrickleError as exc:
            self._report("data", f"cannot publish data to {self.url}: {exc}", None)
            return False
        return True

    def _flush_problems(self) -> None:
        with self._lock:
            problems = list(self._problems)
            self._problems.clear()
            refused, self._refused = self._refused, 0
        for message, frame in problems:
            self._report("data", message, frame)
        lost = refused - len(problems)
        if lost > 0:
            self._report("data", f"{lost} more send_data() calls were refused", None)


async def read_control(
    http: aiohttp.ClientSession,
    url: str,
    *,
    retry: RetryPolicy,
    on_message: Callable[[dict[str, Any]], Awaitable[None]],
    report: Problem,
    max_bytes: int = 1 << 20,
) -> None:
    """Follow a control channel and hand each JSON object to ``on_message``, in order.

    Reads from the current segment (``-2``) on, so an update the gateway sent before
    the worker connected still applies. Keepalives are skipped. A segment that is not
    a JSON object, is larger than ``max_bytes`` or breaks off is reported and skipped.
    Returns when the channel closes.

    Raises:
        TrickleError: the channel cannot be followed (after the retry policy).
    """
    async with TrickleSubscriber(
        http, url, start_seq=SEQ_CURRENT, retry=replace(retry, wait_timeout=None)
    ) as subscriber:
        async for segment in subscriber:
            body = bytearray()
            try:
                async for chunk in segment:
                    body += chunk
                    if len(body) > max_bytes:
                        break
            except TrickleError as exc:
                report("control", f"control segment {segment.seq} broke off: {exc}", None)
                continue
            if len(body) > max_bytes:
                segment.close()
                report(
                    "control",
                    f"control message in segment {segment.seq} is over {max_bytes:,} bytes",
                    None,
                )
                continue
            message = _parse_control(bytes(body), segment.seq, report)
            if message is not None and message != KEEPALIVE:
                await on_message(message)


def _parse_control(body: bytes, seq: int, report: Problem) -> dict[str, Any] | None:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:
        report("control", f"control message in segment {seq} is not JSON ({exc})", None)
        return None
    if not isinstance(message, dict):
        report(
            "control",
            f"control message in segment {seq} must be a JSON object, not {type(message).__name__}",
            None,
        )
        return None
    return message


async def delete_channel(http: aiohttp.ClientSession, url: str, retry: RetryPolicy) -> None:
    """Close (``DELETE``) a channel this worker wrote, so its readers see end of stream.

    A channel that is already gone is fine; other failures are logged, never raised.
    """
    try:
        await TricklePublisher(http, url, retry=retry).close(delete=True)
    except TrickleError as exc:
        logger.debug("cannot close trickle channel %s: %s", url, exc)
