"""The orchestrator's live-stream routes, its streams, and the monitor that ends them.

``POST /ai/stream/start`` (go-livepeer ``byoc/stream_orchestrator.go``): the header's
``id`` is the stream id; the orchestrator reserves capacity, creates the stream's
trickle channels on its own server (``{id}-control`` and ``{id}-events`` always;
``{id}``, ``{id}-out``, ``{id}-data`` per ``enable_*``), and calls the worker's
``/stream/start`` with ``X-Stream-Id`` and exactly go-livepeer's body: the gateway's
JSON merged over ``gateway_request_id`` and the channel URLs, keys sorted as Go sorts
a map. The answer carries ``X-Publish-Url``, ``X-Subscribe-Url``, ``X-Control-Url``,
``X-Events-Url`` and ``X-Data-Url``. A worker failure closes the channels and frees
the capacity. ``update`` and ``stop`` forward to the worker's ``/stream/params`` and
``/stream/stop``; ``stop`` then removes the stream (closing its channels).

The monitor checks every ``monitor_interval`` seconds that each stream's control
channel is still open (else it stops the worker's stream and removes it, as
go-livepeer does), that its events channel is (a byoc_lab worker deletes it when its
stream ends; then the stream is removed) and that its worker still answers (else it publishes an
``{"type": "error", …}`` event, so the gateway's status shows why, and removes it).
It publishes ``{"keep":"alive"}`` on every control channel each ``keepalive_interval``
(go-livepeer's gateway sends these; byoc_lab's gateway relays no media, so here the
orchestrator does), except while a client publishes to that control channel itself.

Deliberate differences from go-livepeer: capacity beyond the registration answers 503
(go-livepeer: 400, and only after counting past capacity); an unreachable worker 503
(500); a stream id that is empty, unsafe as a channel name, already running, or whose
channels another stream holds, is refused up front (go-livepeer finds out after the
worker started); ``update``/``stop`` of an unknown stream answer 404 (go-livepeer
forwards them to whatever worker the capability names).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import hdrs, web

from byoc_lab.errors import ChannelLimitError, RequestError
from byoc_lab.network.gojson import dumps
from byoc_lab.network.hosting import text_error
from byoc_lab.network.livepeer_header import LIVEPEER_HEADER, JobParameters
from byoc_lab.network.orchestrator_jobs import check_job, is_connect_error
from byoc_lab.network.wire import (
    BALANCE_ZERO,
    HEADER_BALANCE,
    HEADER_CONTROL_URL,
    HEADER_DATA_URL,
    HEADER_EVENTS_URL,
    HEADER_PUBLISH_URL,
    HEADER_STREAM_ID,
    HEADER_SUBSCRIBE_URL,
    StreamChannels,
    check_stream_id,
)
from byoc_lab.trickle import TrickleServer
from byoc_lab.trickle.wire import (
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_JSONL,
    CONTENT_TYPE_MPEGTS,
    SEQ_NEXT,
)

if TYPE_CHECKING:
    from byoc_lab.network.orchestrator import Orchestrator

__all__ = ["StreamInfo", "StreamManager", "publish_local"]

logger = logging.getLogger(__name__)

_KEEPALIVE = b'{"keep":"alive"}'
_PROBE_TIMEOUT_S = 2.0
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class StreamInfo:
    """A snapshot of one stream on the orchestrator."""

    stream_id: str
    capability: str
    worker_url: str
    channels: tuple[str, ...]
    age_s: float


@dataclass
class _Stream:
    stream_id: str
    capability: str
    worker_url: str
    token: str | None
    channels: StreamChannels
    opened: tuple[str, ...]
    timeout_seconds: int
    started: float
    last_keepalive: float


@dataclass(frozen=True)
class _WorkerAnswer:
    """A worker's answer, or (``error`` set) the failure to get one."""

    status: int
    body: bytes
    content_type: str | None
    error: str | None = None

    @classmethod
    def failed(cls, status: int, message: str) -> _WorkerAnswer:
        return cls(status, b"", None, message)

    def response(self) -> web.Response:
        """The answer to pass back: the worker's own, or a text error of ours."""
        if self.error is not None:
            return text_error(self.error, self.status)
        response = web.Response(body=self.body, status=self.status)
        if self.content_type:
            response.headers[hdrs.CONTENT_TYPE] = self.content_type
        return response


def publish_local(server: TrickleServer, channel: str, data: bytes) -> bool:
    """Write ``data`` as the next segment of ``channel`` in-process; False if not written.

    Like go-livepeer's ``TrickleLocalPublisher``: subscribers waiting for the next
    segment get it at once. Nothing is written when the channel is closed, or when a
    remote publisher has already connected the next segment (go-livepeer and byoc_lab
    publishers always preconnect it): that publisher owns the channel, and taking its
    segment would cut its upload.
    """
    target = server.channel(channel)
    if target is None or target.closed:
        return False
    waiting = target.segment_at(target.next_write)
    if waiting is not None and waiting.writer_attached:
        return False
    segment = target.segment_for_write(SEQ_NEXT)
    segment.writer_attached = True
    target.mark_written(segment)
    segment.write(data)
    segment.close()
    return True


class StreamManager:
    """The ``/ai/stream/*`` routes and the streams they started, for one orchestrator."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orch = orchestrator
        self._streams: dict[str, _Stream] = {}

    def add_routes(self, app: web.Application) -> None:
        """Add this group's routes to ``app``."""
        app.router.add_post("/ai/stream/start", self.start)
        app.router.add_post("/ai/stream/update", self.update)
        app.router.add_post("/ai/stream/stop", self.stop)
        app.router.add_post("/ai/stream/payment", self.payment)

    def infos(self) -> list[StreamInfo]:
        """Snapshots of the running streams, sorted by id."""
        now = time.monotonic()
        return [
            StreamInfo(s.stream_id, s.capability, s.worker_url, s.opened, now - s.started)
            for s in sorted(self._streams.values(), key=lambda s: s.stream_id)
        ]

    # -- routes -----------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.Response:
        """``POST /ai/stream/start``: channels, then the worker's ``/stream/start``."""
        job = check_job(request.headers.get(LIVEPEER_HEADER))
        stream_id = check_stream_id(job.id, field="id")
        params = job.job_parameters()
        client_body = _json_object(await request.read())
        if stream_id in self._streams:
            raise RequestError(f"stream already exists: {stream_id}", field="id")
        channels = StreamChannels(stream_id)
        wanted = _wanted_channels(channels, params)
        for name, _ in wanted:
            if self._orch.trickle.channel(name) is not None:
                raise RequestError(
                    f"trickle channel {name} is already in use by another stream",
                    status=409,
                    fix="choose another stream id",
                )
        capability = self._orch.registry.reserve(job.capability)
        routing = self._orch.routing
        routing.add("stream start received from gateway: %s on %s", stream_id, capability.name)
        try:
            for name, mime in wanted:
                self._orch.trickle.create_channel(name, mime)
        except ChannelLimitError as exc:
            self._close_channels([name for name, _ in wanted])
            self._orch.registry.free(capability.name)
            raise RequestError(str(exc), status=503) from exc
        roles = _roles(channels, params)
        urls = {role: self._orch.trickle_url(request, name) for role, name in roles}
        worker_body = {"gateway_request_id": stream_id, **urls, **client_body}
        stream = _Stream(
            stream_id=stream_id,
            capability=capability.name,
            worker_url=capability.url,
            token=capability.token,
            channels=channels,
            opened=tuple(name for name, _ in wanted),
            timeout_seconds=job.timeout_seconds,
            started=time.monotonic(),
            last_keepalive=time.monotonic(),
        )
        content_type = request.headers.get(hdrs.CONTENT_TYPE, "application/json")
        answer = await self._call_worker(
            stream, "/stream/start", dumps(worker_body, sort_keys=True).encode(), content_type
        )
        if answer.status >= 400:
            self._close_channels(list(stream.opened))
            self._orch.registry.free(capability.name)
            routing.add("worker refused stream %s: HTTP %d", stream_id, answer.status)
            return answer.response()
        self._streams[stream_id] = stream
        headers = {HEADER_BALANCE: BALANCE_ZERO}
        for role, header in _URL_HEADERS:
            if role in urls:
                headers[header] = urls[role]
        routing.add("worker started stream %s (channels: %s)", stream_id, ", ".join(stream.opened))
        return web.Response(status=200, headers=headers)

    async def update(self, request: web.Request) -> web.Response:
        """``POST /ai/stream/update``: the raw body goes to the worker's ``/stream/params``."""
        stream = self._known_stream(request)
        body = await request.read()
        answer = await self._call_worker(stream, "/stream/params", body, "application/json")
        return answer.response()

    async def stop(self, request: web.Request) -> web.Response:
        """``POST /ai/stream/stop``: stop the worker's stream, then remove it here."""
        stream = self._known_stream(request)
        body = await request.read()
        answer = await self._call_worker(
            stream, "/stream/stop", body, request.headers.get(hdrs.CONTENT_TYPE, "application/json")
        )
        self._remove(stream, "stopped by the gateway")
        if answer.error is not None:
            return web.Response(status=200)  # as go-livepeer: stopped here even if not there
        return answer.response()

    async def payment(self, request: web.Request) -> web.Response:
        """``POST /ai/stream/payment``: offchain nothing to pay; 200 with balance 0."""
        check_job(request.headers.get(LIVEPEER_HEADER))
        return web.Response(status=200, headers={HEADER_BALANCE: BALANCE_ZERO})

    def _known_stream(self, request: web.Request) -> _Stream:
        job = check_job(request.headers.get(LIVEPEER_HEADER))
        stream_id = check_stream_id(job.stream_id(), field="stream_id")
        stream = self._streams.get(stream_id)
        if stream is None:
            raise RequestError(
                f"stream {stream_id} is not running on this orchestrator",
                status=404,
                field="stream_id",
            )
        return stream

    # -- worker calls -----------------------------------------------------------------

    async def _call_worker(
        self, stream: _Stream, path: str, body: bytes, content_type: str
    ) -> _WorkerAnswer:
        """POST ``body`` to the stream's worker at ``path``; never raises for the worker."""
        headers = {HEADER_STREAM_ID: stream.stream_id, hdrs.CONTENT_TYPE: content_type}
        if stream.token:
            headers[hdrs.AUTHORIZATION] = f"Bearer {stream.token}"
        url = stream.worker_url + path
        self._orch.routing.add("forwarded to worker: POST %s (stream %s)", url, stream.stream_id)
        try:
            async with asyncio.timeout(stream.timeout_seconds):
                async with self._orch.http.post(url, data=body, headers=headers) as upstream:
                    data = await upstream.read()
        except TimeoutError:
            return _WorkerAnswer.failed(
                504,
                f"the worker at {stream.worker_url} did not answer {path} within "
                f"timeout_seconds={stream.timeout_seconds}",
            )
        except aiohttp.ClientError as exc:
            reason = "unreachable" if is_connect_error(exc) else "failing"
            return _WorkerAnswer.failed(
                503,
                f"Error sending request to worker: the worker at {stream.worker_url} is "
                f"{reason} ({exc}). Fix: check that it is running and registered",
            )
        if upstream.status == 401:
            self._orch.unregister(stream.capability)
            return _WorkerAnswer.failed(500, "Orchestrator worker failure")
        return _WorkerAnswer(upstream.status, data, upstream.headers.get(hdrs.CONTENT_TYPE))

    # -- removal and monitoring -------------------------------------------------------

    def _close_channels(self, names: list[str]) -> None:
        for name in names:
            self._orch.trickle.close_channel(name)

    def _remove(self, stream: _Stream, reason: str) -> None:
        if self._streams.get(stream.stream_id) is not stream:
            return
        del self._streams[stream.stream_id]
        self._close_channels(list(stream.opened))
        self._orch.registry.free(stream.capability)
        self._orch.routing.add("stream %s ended: %s", stream.stream_id, reason)

    async def _stop_worker_quietly(self, stream: _Stream) -> None:
        headers = {HEADER_STREAM_ID: stream.stream_id}
        if stream.token:
            headers[hdrs.AUTHORIZATION] = f"Bearer {stream.token}"
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                async with self._orch.http.post(
                    stream.worker_url + "/stream/stop", headers=headers
                ) as upstream:
                    await upstream.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.debug("stream %s: /stream/stop failed: %r", stream.stream_id, exc)

    async def _worker_alive(self, stream: _Stream) -> bool:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                async with self._orch.http.get(stream.worker_url + "/health") as upstream:
                    await upstream.read()
        except TimeoutError:
            return True  # slow is not gone
        except aiohttp.ClientError as exc:
            return not is_connect_error(exc)
        return True

    async def check(self, stream: _Stream) -> None:
        """One monitor round for ``stream``: keepalive, control channel, worker."""
        if stream.stream_id not in self._streams:
            return
        if self._orch.trickle.channel(stream.channels.control) is None:
            await self._stop_worker_quietly(stream)
            self._remove(stream, "its control channel was closed")
            return
        if self._orch.trickle.channel(stream.channels.events) is None:
            # A byoc_lab worker deletes the channels it wrote when its stream ends.
            self._remove(stream, "the worker closed its events channel")
            return
        if not await self._worker_alive(stream):
            message = f"the worker at {stream.worker_url} is unreachable; stream stopped"
            event = {"type": "error", "message": message, "stream_id": stream.stream_id}
            publish_local(self._orch.trickle, stream.channels.events, dumps(event).encode())
            self._remove(stream, f"worker unreachable ({stream.worker_url})")
            return
        interval = self._orch.config.keepalive_interval
        now = time.monotonic()
        if interval is not None and now - stream.last_keepalive >= interval:
            stream.last_keepalive = now
            publish_local(self._orch.trickle, stream.channels.control, _KEEPALIVE)
            logger.debug("stream %s: keepalive sent", stream.stream_id)

    async def monitor_forever(self) -> None:
        """Run :meth:`check` on every stream each tick; a task of the application."""
        config = self._orch.config
        tick = min(config.monitor_interval, config.keepalive_interval or config.monitor_interval)
        while True:
            await asyncio.sleep(tick)
            try:
                await asyncio.gather(*(self.check(s) for s in list(self._streams.values())))
            except Exception:  # task top: keep monitoring, but never silently
                logger.exception("stream monitor round failed")

    async def close_all(self, reason: str) -> None:
        """Stop every stream (worker calls bounded by a few seconds) and remove it."""
        streams = list(self._streams.values())
        await asyncio.gather(*(self._stop_worker_quietly(s) for s in streams))
        for stream in streams:
            self._remove(stream, reason)


_URL_HEADERS = (
    ("subscribe_url", HEADER_PUBLISH_URL),  # the worker subscribes where the gateway publishes
    ("publish_url", HEADER_SUBSCRIBE_URL),
    ("control_url", HEADER_CONTROL_URL),
    ("events_url", HEADER_EVENTS_URL),
    ("data_url", HEADER_DATA_URL),
)


def _wanted_channels(channels: StreamChannels, params: JobParameters) -> list[tuple[str, str]]:
    wanted = [(channels.control, CONTENT_TYPE_JSON), (channels.events, CONTENT_TYPE_JSON)]
    if params.enable_video_ingress:
        wanted.append((channels.ingress, CONTENT_TYPE_MPEGTS))
    if params.enable_video_egress:
        wanted.append((channels.egress, CONTENT_TYPE_MPEGTS))
    if params.enable_data_output:
        wanted.append((channels.data, CONTENT_TYPE_JSONL))
    return wanted


def _roles(channels: StreamChannels, params: JobParameters) -> list[tuple[str, str]]:
    """(worker body key, channel name) for each channel the stream has."""
    roles = [("control_url", channels.control), ("events_url", channels.events)]
    if params.enable_video_ingress:
        roles.append(("subscribe_url", channels.ingress))
    if params.enable_video_egress:
        roles.append(("publish_url", channels.egress))
    if params.enable_data_output:
        roles.append(("data_url", channels.data))
    return roles


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestError(
            "Invalid JSON body", field="body", expected='a JSON object such as {"params": {}}'
        ) from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError("Invalid JSON body", field="body", expected="a JSON object")
    return value
