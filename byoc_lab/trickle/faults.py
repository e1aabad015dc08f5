"""Fault injection for the trickle server: what a flaky network does to a stream, on demand.

Off by default: a :class:`~byoc_lab.trickle.TrickleServer` whose ``faults`` is None
(the default) checks that one attribute per transfer and goes on. Give it a
:class:`FaultPlan` (``TrickleServer(faults=plan)``, or set ``server.faults = plan``
while it runs, e.g. ``orchestrator.trickle.faults``) and it hands every segment
transfer (one ``GET`` or ``POST {channel}/{seq}``) to :meth:`FaultPlan.intercept`;
transfers no fault matches go on untouched. Each fault names a channel, optionally a
segment number and a method, and fires ``times`` times (once by default);
:attr:`FaultPlan.fired` records each firing with the segment, the bytes that got
through and when::

    plan = FaultPlan()
    orchestrator.trickle.faults = plan
    plan.cut(stream_id, seq=2, after=3000)             # the worker's read of input 2
    plan.cut(f"{stream_id}-out", seq=1, after=3000, method="POST")  # its upload
    plan.delay(stream_id, seq=3, seconds=2.0)
    plan.lose(f"{stream_id}-out", seq=4)               # the client's read: 470

What each fault reproduces from the real network:

- :meth:`~FaultPlan.cut` (drop a connection mid-segment): the TCP connection of a
  transfer breaks after ``after`` bytes, as when a proxy, NAT or load balancer resets
  it, or a Wi-Fi link drops (daydreamlive/scope #915: a subscriber's GET fails
  mid-session). A ``GET`` reader gets the first bytes and then a broken body (no
  chunked terminator); a ``POST`` publisher sees its upload fail while the segment
  ends, on the server, after the bytes that arrived.
- :meth:`~FaultPlan.delay` (delay a segment): the transfer starts ``seconds`` late,
  as behind congestion, a stalled TCP window or a slow relay. Nothing is lost as long
  as the reader is back within the server's 5-segment window.
- :meth:`~FaultPlan.lose` (lose a segment): once the segment has started, its ``GET``
  answers 470 with ``Lp-Trickle-Latest`` past it, exactly what go-livepeer answers a
  reader who fell out of the window (wire doc §2). The reader jumps ahead; the
  segment is gone for it.
- :meth:`byoc_lab.trickle.host.TrickleHost.restart` (the server restarts): every
  connection is reset, the port stops listening, and a fresh server comes back on the
  same port without any channel, as after a crash and restart of an orchestrator.
  Readers and writers of the old channels get connection errors, then 404.

Use it on the loop the server runs on. Faults are for tests and demonstrations; a
production server never sets a plan.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from byoc_lab.errors import ParamError

from .channel import Channel
from .segment import Segment
from .wire import HEADER_LATEST, HEADER_SEQ, STATUS_SEGMENT_NOT_FOUND, format_seq

__all__ = ["Fault", "FaultKind", "FaultPlan", "Fired"]

logger = logging.getLogger(__name__)

_POLL_S = 1.0
"""How often a fault waiting for a segment's first byte checks that its client is still there."""

Transfer = Callable[[], Awaitable[web.StreamResponse]]
"""The server's own handling of a transfer, run when no fault (or a delay) applies."""


class FaultKind(enum.Enum):
    """What a :class:`Fault` does to the transfer it matches."""

    CUT = "cut"
    DELAY = "delay"
    LOSE = "lose"


@dataclass(frozen=True)
class Fault:
    """One fault of a plan (made by :meth:`FaultPlan.cut`, ``delay`` or ``lose``).

    Attributes:
        kind: what it does.
        channel: the channel name it applies to.
        seq: the segment number it applies to (None: the next matching transfer).
        method: ``"GET"`` (a reader) or ``"POST"`` (the publisher).
        after: for CUT, bytes let through before the connection drops.
        seconds: for DELAY, how late the transfer starts.
        times: how many transfers it fires on.
    """

    kind: FaultKind
    channel: str
    seq: int | None
    method: str
    after: int = 0
    seconds: float = 0.0
    times: int = 1

    def matches(self, method: str, channel: str, seq: int) -> bool:
        """Whether a transfer of segment ``seq`` of ``channel`` by ``method`` is affected."""
        return (
            method == self.method
            and channel == self.channel
            and (self.seq is None or self.seq == seq)
        )


@dataclass(frozen=True)
class Fired:
    """One firing of a fault: which transfer it hit, how many bytes passed, and when.

    Attributes:
        fault: the fault that fired.
        seq: the segment it hit.
        passed: bytes that got through (CUT), the segment's size when it was lost
            (LOSE), 0 for DELAY.
        at: ``time.monotonic()`` when the fault took effect (for DELAY: when the
            transfer was let go).
    """

    fault: Fault
    seq: int
    passed: int
    at: float


class FaultPlan:
    """The faults a :class:`TrickleServer` injects; add them before or while it serves."""

    def __init__(self) -> None:
        self._faults: dict[Fault, int] = {}  # fault -> firings left
        self.fired: list[Fired] = []

    # -- building the plan -----------------------------------------------------------------

    def cut(
        self,
        channel: str,
        *,
        seq: int | None = None,
        after: int,
        method: str = "GET",
        times: int = 1,
    ) -> Fault:
        """Drop the connection of a transfer after ``after`` bytes of the segment's body."""
        if after < 0:
            raise ParamError("a cut needs after >= 0 bytes", got=str(after))
        return self._add(
            Fault(FaultKind.CUT, channel, seq, _method(method), after=after, times=times)
        )

    def delay(
        self,
        channel: str,
        *,
        seq: int | None = None,
        seconds: float,
        method: str = "GET",
        times: int = 1,
    ) -> Fault:
        """Start a transfer ``seconds`` late (a reader gets the segment that much later)."""
        if seconds <= 0:
            raise ParamError("a delay needs a positive number of seconds", got=str(seconds))
        fault = Fault(FaultKind.DELAY, channel, seq, _method(method), seconds=seconds, times=times)
        return self._add(fault)

    def lose(self, channel: str, *, seq: int | None = None, times: int = 1) -> Fault:
        """Answer a reader's GET of the segment 470 (gone), once the segment has started."""
        return self._add(Fault(FaultKind.LOSE, channel, seq, "GET", times=times))

    def clear(self) -> None:
        """Remove every fault that has not fired yet (the record of firings stays)."""
        self._faults.clear()

    def pending(self) -> list[Fault]:
        """The faults that still have firings left."""
        return list(self._faults)

    def fired_of(self, fault: Fault) -> list[Fired]:
        """The firings of ``fault`` so far."""
        return [record for record in self.fired if record.fault == fault]

    def _add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ParamError("a fault fires at least once", got=f"times={fault.times}")
        self._faults[fault] = self._faults.get(fault, 0) + fault.times
        return fault

    def _take(self, method: str, channel: str, seq: int) -> Fault | None:
        for fault, left in self._faults.items():
            if fault.matches(method, channel, seq):
                if left <= 1:
                    del self._faults[fault]
                else:
                    self._faults[fault] = left - 1
                return fault
        return None

    def _record(self, fault: Fault, seq: int, passed: int) -> None:
        self.fired.append(Fired(fault, seq, passed, time.monotonic()))
        logger.info(
            "trickle fault %s fired on %s/%d (%d bytes)",
            fault.kind.value,
            fault.channel,
            seq,
            passed,
        )

    # -- the server's hook -----------------------------------------------------------------

    async def intercept(
        self, request: web.Request, channel: Channel, segment: Segment, transfer: Transfer
    ) -> web.StreamResponse:
        """Serve one segment transfer, applying the first fault that matches it.

        Called by the server's handlers for every ``GET``/``POST {channel}/{seq}`` once
        the segment is resolved; ``transfer`` is what the server does without faults.
        """
        fault = self._take(request.method, channel.name, segment.seq)
        if fault is None:
            return await transfer()
        if fault.kind is FaultKind.DELAY:
            await asyncio.sleep(fault.seconds)
            self._record(fault, segment.seq, 0)
            return await transfer()
        if request.method == hdrs.METH_POST:
            return await self._cut_write(fault, request, channel, segment)
        if not await _wait_started(request, segment):
            return web.Response(status=204)  # the reader left; nothing to inflict
        if segment.size == 0:  # ended empty (channel closed): nothing to cut or lose
            self._faults[fault] = self._faults.get(fault, 0) + 1  # keep it for later
            return await transfer()
        if fault.kind is FaultKind.LOSE:
            return self._lose(fault, channel, segment)
        return await self._cut_read(fault, request, channel, segment)

    def _lose(self, fault: Fault, channel: Channel, segment: Segment) -> web.Response:
        latest = max(channel.next_write, segment.seq + 1)
        self._record(fault, segment.seq, segment.size)
        headers = {HEADER_SEQ: format_seq(segment.seq), HEADER_LATEST: format_seq(latest)}
        return web.Response(
            status=STATUS_SEGMENT_NOT_FOUND,
            reason="Segment Not Found",
            text=f"Segment {segment.seq} is not available; the next one is {latest}.\n",
            headers=headers,
        )

    async def _cut_read(
        self, fault: Fault, request: web.Request, channel: Channel, segment: Segment
    ) -> web.StreamResponse:
        """Send the headers and the first ``after`` bytes, then drop the connection."""
        response = web.StreamResponse()
        response.headers[HEADER_SEQ] = format_seq(segment.seq)
        response.headers[hdrs.CONTENT_TYPE] = channel.mime
        await response.prepare(request)
        sent = index = 0
        while sent < fault.after:
            chunks = segment.chunks_from(index)
            if not chunks:
                if segment.closed or not await _wait_more(request, segment, index):
                    break
                continue
            for chunk in chunks:
                part = chunk[: fault.after - sent]
                await response.write(part)
                sent += len(part)
                index += 1
                if sent >= fault.after:
                    break
        self._record(fault, segment.seq, sent)
        _drop(request)
        return response

    async def _cut_write(
        self, fault: Fault, request: web.Request, channel: Channel, segment: Segment
    ) -> web.StreamResponse:
        """Take the first ``after`` body bytes into the segment, then drop the connection."""
        reading = asyncio.ensure_future(_take_body(request, channel, segment, fault.after))
        closed = segment.closed_future()  # the channel may close meanwhile
        waits: set[asyncio.Future[Any]] = {reading, closed}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            reading.cancel()
            await asyncio.wait({reading})
        received = reading.result() if not reading.cancelled() else segment.size
        self._record(fault, segment.seq, received)
        _drop(request)
        if segment.size == 0:
            segment.writer_attached = False  # still fresh: the publisher's retry takes it
        else:
            segment.close()  # readers get what arrived, then the end of the segment
        return web.Response(status=204)  # never delivered: the connection is gone


async def _take_body(request: web.Request, channel: Channel, segment: Segment, limit: int) -> int:
    """Write up to ``limit`` bytes of the request body into ``segment``; the count."""
    received = 0
    if not limit:
        return received
    try:
        async for data in request.content.iter_any():
            part = data[: limit - received]
            if segment.size == 0:
                channel.mark_written(segment)
            if not segment.write(part):
                break
            received += len(part)
            if received >= limit:
                break
    except (OSError, HttpProcessingError):  # the publisher left first
        logger.debug("trickle %s/%d: publisher left during a cut", channel.name, segment.seq)
    return received


def _method(method: str) -> str:
    upper = method.upper()
    if upper not in (hdrs.METH_GET, hdrs.METH_POST):
        raise ParamError("a fault applies to GET (readers) or POST (the publisher)", got=method)
    return upper


def _drop(request: web.Request) -> None:
    """Close the connection under a transfer (what was written still leaves first)."""
    transport = request.transport
    if transport is not None:
        transport.close()


async def _wait_more(request: web.Request, segment: Segment, have: int) -> bool:
    """Wait up to one poll for chunk ``have`` (or the end); False if the client left."""
    try:
        async with asyncio.timeout(_POLL_S):
            await segment.wait(have)
    except TimeoutError:
        pass
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _wait_started(request: web.Request, segment: Segment) -> bool:
    """Until the segment has its first byte or has ended; False if the client left."""
    while not segment.chunks_from(0) and not segment.closed:
        if not await _wait_more(request, segment, 0):
            return False
    return True
