"""HTTP handlers of the trickle server, one per route of go-livepeer's ``ConfigureServer``.

Handlers are thin: they validate the path, ask the :class:`TrickleServer` for the
channel, and move bytes between a request and a :class:`Segment`. A GET sends its
headers only when the segment's first byte exists (or the segment ended empty), as
go-livepeer does, so ``Lp-Trickle-Closed`` can still be set on an empty answer.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from byoc_lab.errors import ChannelLimitError

from .channel import Channel
from .segment import Segment
from .wire import (
    CLOSED_TERMINATED,
    CONTENT_TYPE_DEFAULT,
    HEADER_CLOSED,
    HEADER_EXPECT_CONTENT,
    HEADER_LATEST,
    HEADER_RESET,
    HEADER_SEQ,
    NEXT_ROUTE,
    SEQ_CURRENT,
    SEQ_NEXT,
    STATUS_SEGMENT_NOT_FOUND,
    format_seq,
    is_valid_channel_name,
    parse_seq,
    route_prefix,
)

if TYPE_CHECKING:
    from .server import TrickleServer

__all__ = ["add_routes"]

logger = logging.getLogger(__name__)

_DISCONNECT_POLL_S = 1.0
"""How often a GET waiting for data checks that its client is still connected."""

_REASON_SEGMENT_NOT_FOUND = "Segment Not Found"


class _End(enum.Enum):
    """How the body of a segment POST ended."""

    EOF = "eof"
    TOO_LARGE = "too large"
    CUT_OFF = "cut off"
    CLOSED = "closed"


def add_routes(app: web.Application, server: TrickleServer, base_path: str) -> None:
    """Register the trickle routes of ``server`` on ``app`` under ``base_path``."""
    handlers = _Handlers(server)
    prefix = route_prefix(base_path)
    router = app.router
    router.add_post(prefix + "{channel}", handlers.create)
    router.add_delete(prefix + "{channel}", handlers.delete_channel)
    router.add_get(prefix + "{channel}/" + NEXT_ROUTE, handlers.next_seq, allow_head=False)
    router.add_get(prefix + "{channel}/{seq}", handlers.get, allow_head=False)
    router.add_post(prefix + "{channel}/{seq}", handlers.post)
    router.add_delete(prefix + "{channel}/{seq}", handlers.delete_segment)


def _text(
    status: int, message: str, headers: Mapping[str, str] | None = None, reason: str | None = None
) -> web.Response:
    return web.Response(status=status, reason=reason, text=message + "\n", headers=headers)


class _BadRequest(Exception):
    """A request that names an invalid channel or sequence; becomes a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _channel_name(request: web.Request) -> str:
    name = request.match_info["channel"]
    if not is_valid_channel_name(name):
        raise _BadRequest(
            "Invalid channel name: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def _seq(request: web.Request, lowest: int) -> int:
    seq = parse_seq(request.match_info["seq"])
    if seq is None or seq < lowest:
        raise _BadRequest(
            f"Invalid segment number {request.match_info['seq']!r}: expected an integer "
            f"of at least {lowest}."
        )
    return seq


class _Handlers:
    """The route handlers of one server; every method is an aiohttp handler."""

    def __init__(self, server: TrickleServer) -> None:
        self._server = server

    # -- channels -----------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        """``POST {channel}``: explicit create, mime from ``Expect-Content``."""
        try:
            name = _channel_name(request)
            mime = request.headers.get(HEADER_EXPECT_CONTENT, CONTENT_TYPE_DEFAULT)
            channel = self._server.open_for_client(name, mime)
        except _BadRequest as exc:
            return _text(HTTPStatus.BAD_REQUEST, exc.message)
        except ChannelLimitError:
            return _text(HTTPStatus.SERVICE_UNAVAILABLE, "Too many channels are open.")
        if channel is None:
            return _text(HTTPStatus.NOT_FOUND, f"Channel {name} does not exist.")
        return web.Response()

    async def delete_channel(self, request: web.Request) -> web.Response:
        """``DELETE {channel}``: close and forget the channel (400 if unknown, as go)."""
        try:
            name = _channel_name(request)
        except _BadRequest as exc:
            return _text(HTTPStatus.BAD_REQUEST, exc.message)
        if not self._server.close_channel(name):
            return _text(HTTPStatus.BAD_REQUEST, f"Channel {name} does not exist.")
        return web.Response()

    async def next_seq(self, request: web.Request) -> web.Response:
        """``GET {channel}/next``: the next write position as plain text."""
        try:
            name = _channel_name(request)
        except _BadRequest as exc:
            return _text(HTTPStatus.BAD_REQUEST, exc.message)
        channel = self._server.channel(name)
        if channel is not None:
            latest = format_seq(channel.next_write)
            return web.Response(text=latest, headers={HEADER_LATEST: latest})
        tomb = self._server.tombstone(name)
        if tomb is None:
            return _text(HTTPStatus.NOT_FOUND, f"Channel {name} does not exist.")
        latest = format_seq(tomb.next_seq)
        headers = {HEADER_LATEST: latest, HEADER_CLOSED: CLOSED_TERMINATED}
        return web.Response(text=latest, headers=headers)

    # -- segments -----------------------------------------------------------------------

    async def delete_segment(self, request: web.Request) -> web.Response:
        """``DELETE {channel}/{seq}``: close one segment so its readers stop waiting."""
        try:
            channel = self._lookup(request)
            seq = _seq(request, 0)
        except _BadRequest as exc:
            return _text(HTTPStatus.BAD_REQUEST, exc.message)
        if channel is None:
            return _text(HTTPStatus.NOT_FOUND, "Channel does not exist.")
        segment = channel.segment_at(seq)
        if segment is None:
            return _text(HTTPStatus.BAD_REQUEST, f"Segment {seq} is not in the window.")
        segment.close()
        return web.Response()

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET {channel}/{seq}``: stream a segment's bytes as they arrive."""
        try:
            name = _channel_name(request)
            seq = _seq(request, SEQ_CURRENT)
        except _BadRequest as exc:
            return _text(HTTPStatus.BAD_REQUEST, exc.message)
        channel = self._server.channel(name)
        if channel is None:
            tomb = self._server.tombstone(name)
            if tomb is None:
                return _text(HTTPStatus.NOT_FOUND, f"Channel {name} does not exist.")
            kept = tomb.segment(seq)
            if kept is not None and tomb.channel is not None:  # a reader still draining
                send = functools.partial(self._send, request, tomb.channel, kept, tomb.next_seq)
                return await self._transfer(request, tomb.channel, kept, send)
            headers = {
                HEADER_SEQ: format_seq(seq),
                HEADER_LATEST: format_seq(tomb.next_seq),
                HEADER_CLOSED: CLOSED_TERMINATED,
            }
            return web.Response(headers=headers)
        target = channel.segment_for_read(seq)
        if target.segment is None:
            headers = {HEADER_SEQ: format_seq(target.seq), HEADER_LATEST: format_seq(target.latest)}
            return _text(
                STATUS_SEGMENT_NOT_FOUND,
                f"Segment {target.seq} is not available; the next one is {target.latest}.",
                headers,
                reason=_REASON_SEGMENT_NOT_FOUND,
            )
        send = functools.partial(self._send, request, channel, target.segment, target.latest)
        return await self._transfer(request, channel, target.segment, send)

    async def post(self, request: web.Request) -> web.StreamResponse:
        """``POST {channel}/{seq}``: receive one segment, readable while it arrives."""
        try:
            name = _channel_name(request)
            seq = _seq(request, SEQ_NEXT)
            mime = request.headers.get(hdrs.CONTENT_TYPE, CONTENT_TYPE_DEFAULT)
            channel = self._server.open_for_client(name, mime)
        except _BadRequest as exc:
            return _text(HTTPStatus.BAD_REQUEST, exc.message)
        except ChannelLimitError:
            return _text(HTTPStatus.SERVICE_UNAVAILABLE, "Too many channels are open.")
        if channel is None:
            # Connection: close wakes go-livepeer's preconnected publishers.
            response = _text(HTTPStatus.NOT_FOUND, f"Channel {name} does not exist.")
            response.force_close()
            return response
        limit = self._server.config.max_segment_bytes
        if request.content_length is not None and request.content_length > limit:
            return _text(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"Segment is larger than the limit of {limit} bytes.",
            )
        segment = channel.segment_for_write(seq)
        segment.writer_attached = True
        if HEADER_RESET in request.headers:
            channel.reset_before(segment.seq)
        receive = functools.partial(self._receive, request, channel, segment)
        return await self._transfer(request, channel, segment, receive)

    # -- internals ----------------------------------------------------------------------

    def _lookup(self, request: web.Request) -> Channel | None:
        return self._server.channel(_channel_name(request))

    async def _transfer(
        self,
        request: web.Request,
        channel: Channel,
        segment: Segment,
        transfer: Callable[[], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Move one segment's bytes: ``transfer``, through the server's fault plan if set."""
        faults = self._server.faults
        if faults is None:
            return await transfer()
        return await faults.intercept(request, channel, segment, transfer)

    async def _receive(
        self, request: web.Request, channel: Channel, segment: Segment
    ) -> web.Response:
        """Feed ``segment`` from the request body until it ends or the segment is closed."""
        end: _End | None = None
        pump = self._server.spawn(
            self._pump(request, channel, segment), name=f"trickle-post-{channel.name}-{segment.seq}"
        )
        closed = segment.closed_future()
        try:
            await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
            end = pump.result() if pump.done() else _End.CLOSED
        finally:
            closed.cancel()
            if not pump.done():
                pump.cancel()
                await asyncio.wait({pump})
            self._finish(channel, segment, end if end is not None else _End.CUT_OFF)
        logger.debug(
            "trickle %s/%d: POST ended (%s) after %d bytes",
            channel.name,
            segment.seq,
            end.value,
            segment.size,
        )
        headers = {HEADER_SEQ: format_seq(segment.seq)}
        if channel.closed:
            headers[HEADER_CLOSED] = CLOSED_TERMINATED
        if end is _End.TOO_LARGE:
            limit = self._server.config.max_segment_bytes
            return _text(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"Segment {segment.seq} exceeded the limit of {limit} bytes and was cut there.",
                headers,
            )
        if end is _End.CUT_OFF:
            return _text(HTTPStatus.BAD_REQUEST, "The request body was cut off.", headers)
        response = web.Response(headers=headers)
        if end is _End.CLOSED:
            response.force_close()  # stop receiving a body nobody will read
        return response

    async def _pump(self, request: web.Request, channel: Channel, segment: Segment) -> _End:
        limit = self._server.config.max_segment_bytes
        try:
            async for data in request.content.iter_any():
                room = limit - segment.size
                if segment.size == 0:
                    channel.mark_written(segment)
                if not segment.write(data[:room]):
                    return _End.CLOSED
                if len(data) > room:
                    return _End.TOO_LARGE
        except (OSError, HttpProcessingError):
            return _End.CUT_OFF
        return _End.EOF

    @staticmethod
    def _finish(channel: Channel, segment: Segment, end: _End) -> None:
        """Settle the segment after its POST: it ends, except a cut-off with no byte."""
        if end is _End.CUT_OFF and segment.size == 0:
            segment.writer_attached = False  # still fresh: a retry may take it over
            return
        if segment.size == 0 and not channel.closed and segment.seq >= channel.next_write:
            channel.mark_written(segment)  # an empty segment still moves the write head
        segment.close()

    async def _send(
        self, request: web.Request, channel: Channel, segment: Segment, latest: int
    ) -> web.StreamResponse:
        """Stream ``segment`` to the client, waiting for bytes as long as it is open."""
        sent = 0
        while not segment.chunks_from(sent) and not segment.closed:
            if not await self._wait(request, segment, sent):
                return web.Response(status=HTTPStatus.NO_CONTENT)  # client left
        response = web.StreamResponse()
        response.headers[HEADER_SEQ] = format_seq(segment.seq)
        if segment.size == 0:
            response.headers[HEADER_LATEST] = format_seq(channel.next_write)
            if channel.closed:
                response.headers[HEADER_CLOSED] = CLOSED_TERMINATED
            response.content_length = 0
            await response.prepare(request)
            await response.write_eof()
            return response
        if segment.seq != latest:
            response.headers[HEADER_LATEST] = format_seq(latest)
        response.headers[hdrs.CONTENT_TYPE] = channel.mime
        await response.prepare(request)
        try:
            while True:
                for chunk in segment.chunks_from(sent):
                    await response.write(chunk)
                    sent += 1
                if segment.closed and not segment.chunks_from(sent):
                    break
                if not await self._wait(request, segment, sent):
                    return response
            await response.write_eof()
        except ConnectionError:
            logger.debug("trickle %s/%d: subscriber left", channel.name, segment.seq)
        return response

    @staticmethod
    async def _wait(request: web.Request, segment: Segment, have: int) -> bool:
        """Wait up to one poll interval for chunk ``have``; False if the client is gone."""
        try:
            async with asyncio.timeout(_DISCONNECT_POLL_S):
                await segment.wait(have)
        except TimeoutError:
            pass
        transport = request.transport
        return transport is not None and not transport.is_closing()
