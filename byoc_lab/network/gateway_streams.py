"""The gateway's stream routes: ``/process/stream/start``, ``{id}/update|stop|status|data``.

As go-livepeer (``byoc/stream_gateway.go``, ``byoc/trickle.go``): the start body is a
``StartRequest`` (``params`` a JSON *string*); the stream id is ``stream_id`` or 8
random hex characters, prefixed ``{stream_name}-`` when a name is given; the gateway
finds an orchestrator, sends ``POST /ai/stream/start`` with the header's ``id`` set to
the stream id and body ``{"params": …}``, subscribes to the events channel (worker
events of ``type == "status"`` become the stream's status) and to the data channel
(each line becomes one SSE event of ``/data``, lines up to 64 KiB). ``stop`` sends
``/ai/stream/stop`` and answers 200 with the orchestrator's body.

Deliberate differences from go-livepeer:

- ``start`` answers after the orchestrator and worker accepted the stream (go-livepeer
  answers 200 first and reports failures only later in the status), so a worker's
  4xx comes back as it is, and a 5xx or unreachable orchestrator moves on to the next;
  when all fail the answer is 503 naming each failure, and the status keeps the error.
- The answer is go-livepeer's ``StreamUrls`` plus the orchestrator-side trickle URLs a
  client publishes input to and reads output from (``trickle_publish_url``,
  ``trickle_subscribe_url``, ``trickle_control_url``, ``trickle_events_url``,
  ``trickle_data_url``) and ``orchestrator_url``. byoc_lab's gateway runs no
  MediaMTX, so ``whip_url``, ``whep_url``, ``rtmp_url`` and ``rtmp_output_url`` are
  empty, and gateway URLs use the request's scheme (go-livepeer always says https).
- ``update`` re-addresses the header to the stream (capability and ``stream_id``) and
  refuses a header naming another; ``/data`` ends with a real SSE ``event: end``
  (go-livepeer writes it with literal backslashes); a stream id is validated before it
  reaches a URL or a channel name; a stream name ending in ``-out`` is a 400 (go-livepeer
  crashes the handler).
- The status keeps ``orchestrator`` and ``error`` across status events, and lasts until
  ``status_linger`` seconds after the stream ended (see :mod:`~byoc_lab.network.gateway_status`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import hdrs, web

from byoc_lab.errors import RequestError, TrickleError, TrickleTimeoutError
from byoc_lab.network.gateway_discovery import Offer
from byoc_lab.network.gateway_follow import (
    GatewayStream,
    StreamView,
    follow_data,
    follow_events,
    parse_start_request,
)
from byoc_lab.network.gateway_jobs import check_client_job
from byoc_lab.network.gateway_status import DataHub, StatusStore
from byoc_lab.network.gojson import dumps
from byoc_lab.network.hosting import text_error
from byoc_lab.network.livepeer_header import LIVEPEER_HEADER, JobParameters, JobRequest
from byoc_lab.network.wire import (
    HEADER_CONTROL_URL,
    HEADER_DATA_URL,
    HEADER_EVENTS_URL,
    HEADER_PUBLISH_URL,
    HEADER_SUBSCRIBE_URL,
    SSE_CONTENT_TYPE,
    check_stream_id,
    random_stream_id,
)

if TYPE_CHECKING:
    from byoc_lab.network.gateway import Gateway

__all__ = ["GatewayStreams", "StreamView"]

logger = logging.getLogger(__name__)

_STREAM_BODY_MAX = 10 * 1024 * 1024
_STOP_TIMEOUT_S = 10
_SHUTDOWN_STOP_S = 3.0
_SSE_END = b'event: end\ndata: {"type":"stream_ended"}\n\n'
_TRICKLE_KEYS = (
    ("trickle_publish_url", HEADER_PUBLISH_URL),
    ("trickle_subscribe_url", HEADER_SUBSCRIBE_URL),
    ("trickle_control_url", HEADER_CONTROL_URL),
    ("trickle_events_url", HEADER_EVENTS_URL),
    ("trickle_data_url", HEADER_DATA_URL),
)


class GatewayStreams:
    """Streams started through one gateway, their status, and the tasks following them."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self.status = StatusStore(gateway.config.status_linger)
        self._streams: dict[str, GatewayStream] = {}
        self._starting: set[str] = set()

    def add_routes(self, app: web.Application) -> None:
        """Add the ``/process/stream/*`` routes, and close data readers at shutdown."""
        app.router.add_post("/process/stream/start", self.start)
        app.router.add_post("/process/stream/{stream_id}/update", self.update)
        app.router.add_post("/process/stream/{stream_id}/stop", self.stop)
        app.router.add_get("/process/stream/{stream_id}/status", self.status_route)
        app.router.add_get("/process/stream/{stream_id}/data", self.data)
        app.on_shutdown.append(self._on_shutdown)

    def views(self) -> list[StreamView]:
        """Snapshots of the running streams, sorted by id."""
        return [s.view() for s in sorted(self._streams.values(), key=lambda s: s.stream_id)]

    # -- start --------------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.Response:
        """``POST /process/stream/start``: find an orchestrator, start, answer ``StreamUrls``."""
        job, params = check_client_job(request.headers.get(LIVEPEER_HEADER))
        stream_id, model_params = parse_start_request(await _read_stream_body(request))
        if stream_id in self._streams or stream_id in self._starting:
            raise RequestError(f"stream already exists: {stream_id}", field="stream_id")
        self._starting.add(stream_id)
        try:
            return await self._start(request, job, params, stream_id, model_params)
        finally:
            self._starting.discard(stream_id)

    async def _start(
        self,
        request: web.Request,
        job: JobRequest,
        params: JobParameters,
        stream_id: str,
        model_params: dict[str, Any] | None,
    ) -> web.Response:
        gw = self._gw
        gw.routing.add("stream start received from client: %s on %s", stream_id, job.capability)
        self.status.reset(stream_id, {"whep_url": ""})
        discovery = await gw.discover(job.capability, params.orchestrators)
        if not discovery.offers:
            error = discovery.no_orchestrators(job.capability)
            self._failed(stream_id, str(error))
            raise error
        header = replace(job, id=stream_id).signed().encode()
        body = dumps({"params": model_params}, sort_keys=True).encode()
        failures: list[str] = []
        for offer in discovery.offers:
            outcome = await self._start_on(offer, job.timeout_seconds, header, body)
            if isinstance(outcome, str):
                failures.append(f"{offer.target}: {outcome}")
                continue
            if outcome.status >= 400:
                self._failed(stream_id, f"{offer.target} refused the stream: {outcome.text}")
                return outcome
            stream = self._open(stream_id, job, offer, params, outcome.headers)
            return web.Response(
                text=json.dumps(self._stream_urls(request, stream)) + "\n",
                content_type="application/json",
            )
        message = f"All orchestrators failed to start the stream: {'; '.join(failures)}"
        self._failed(stream_id, message)
        raise RequestError(message, status=503, fix="check the orchestrators' and workers' logs")

    async def _start_on(
        self, offer: Offer, timeout_seconds: int, header: str, body: bytes
    ) -> web.Response | str:
        """The orchestrator's answer (headers and body), or why there is none."""
        url = offer.target + "/ai/stream/start"
        self._gw.routing.add("stream start forwarded to orchestrator: POST %s", url)
        headers = {LIVEPEER_HEADER: header, hdrs.CONTENT_TYPE: "application/json"}
        timeout = timeout_seconds + 5
        try:
            async with asyncio.timeout(timeout):
                async with self._gw.http.post(url, data=body, headers=headers) as upstream:
                    data = await upstream.read()
        except TimeoutError:
            return f"no answer within {timeout} s"
        except aiohttp.ClientError as exc:
            return f"unreachable ({type(exc).__name__}: {exc})"
        if upstream.status >= 500:
            return f"HTTP {upstream.status} {data.decode('utf-8', 'replace').strip()[:200]!r}"
        answer = web.Response(body=data, status=upstream.status)
        for name in (hdrs.CONTENT_TYPE, *(header for _, header in _TRICKLE_KEYS)):
            if name in upstream.headers:
                answer.headers[name] = upstream.headers[name]
        return answer

    def _open(
        self,
        stream_id: str,
        job: JobRequest,
        offer: Offer,
        params: JobParameters,
        headers: Any,
    ) -> GatewayStream:
        urls = {key: str(headers.get(header, "")) for key, header in _TRICKLE_KEYS}
        stream = GatewayStream(
            stream_id=stream_id,
            capability=job.capability,
            request_id=random_stream_id(),
            orchestrator=offer.target,
            timeout_seconds=job.timeout_seconds,
            urls=urls,
            hub=DataHub() if params.enable_data_output and urls["trickle_data_url"] else None,
        )
        self._streams[stream_id] = stream
        self.status.set_key(stream_id, "orchestrator", offer.target)
        if urls["trickle_events_url"]:
            task = self._gw.spawn(self._events_task(stream), name=f"gateway-events {stream_id}")
            stream.tasks.append(task)
        if stream.hub is not None:
            task = self._gw.spawn(
                self._data_task(stream, stream.hub), name=f"gateway-data {stream_id}"
            )
            stream.tasks.append(task)
        self._gw.routing.add("stream %s started on %s", stream_id, offer.target)
        return stream

    def _stream_urls(self, request: web.Request, stream: GatewayStream) -> dict[str, str]:
        base = f"{self._gw.public_base(request)}/process/stream/{stream.stream_id}"
        urls = {
            "stream_id": stream.stream_id,
            "whip_url": "",
            "whep_url": "",
            "rtmp_url": "",
            "rtmp_output_url": "",
            "update_url": f"{base}/update",
            "status_url": f"{base}/status",
            "data_url": f"{base}/data" if stream.hub is not None else "",
            "stop_url": f"{base}/stop",
        }
        urls.update(stream.urls)
        urls["orchestrator_url"] = stream.orchestrator
        return urls

    def _failed(self, stream_id: str, message: str) -> None:
        self.status.set_error(stream_id, message)
        self.status.ended(stream_id)
        self._gw.routing.add("stream %s failed to start: %s", stream_id, message)

    # -- update, stop, status, data -------------------------------------------------------

    def _running(self, request: web.Request) -> GatewayStream:
        stream_id = check_stream_id(request.match_info["stream_id"])
        stream = self._streams.get(stream_id)
        if stream is None:
            raise RequestError("Stream not found", status=404, field="stream_id")
        return stream

    async def update(self, request: web.Request) -> web.Response:
        """``POST /process/stream/{id}/update``: the body goes to the worker's params."""
        stream = self._running(request)
        job, _ = check_client_job(request.headers.get(LIVEPEER_HEADER))
        if job.capability != stream.capability:
            raise RequestError(
                "the Livepeer header names another capability than the stream's",
                field="capability",
                expected=stream.capability,
                got=job.capability,
            )
        named = job.stream_id()
        if named and named != stream.stream_id:
            raise RequestError(
                "the Livepeer header's request names another stream",
                field="request",
                expected=f'{{"stream_id": "{stream.stream_id}"}}',
                got=job.request[:80],
            )
        body = await _read_stream_body(request)
        content_type = request.headers.get(hdrs.CONTENT_TYPE, "application/json")
        self._gw.routing.add(
            "stream update for %s forwarded to %s", stream.stream_id, stream.orchestrator
        )
        return await self._to_orchestrator(
            stream, "/ai/stream/update", job.timeout_seconds, body, content_type
        )

    async def stop(self, request: web.Request) -> web.Response:
        """``POST /process/stream/{id}/stop``: stop at the orchestrator, then here; 200."""
        stream = self._running(request)
        body = await _read_stream_body(request)
        for task in stream.tasks:  # the worker closes its channels when it stops
            task.cancel()
        answer = await self._to_orchestrator(
            stream, "/ai/stream/stop", _STOP_TIMEOUT_S, body, "application/json"
        )
        await self._end(stream, None, notify=False)
        self._gw.routing.add("stream %s stopped by the client", stream.stream_id)
        response = web.Response(status=200)  # as go-livepeer: stopped here, whatever there
        if answer.status < 400 and answer.body:
            response.body = answer.body
            response.content_type = answer.content_type
        return response

    async def status_route(self, request: web.Request) -> web.Response:
        """``GET /process/stream/{id}/status``: the status JSON, or 404."""
        stream_id = check_stream_id(request.match_info["stream_id"])
        status = self.status.get(stream_id)
        if status is None:
            raise RequestError("Stream not found", status=404, field="stream_id")
        return web.Response(text=json.dumps(status) + "\n", content_type="application/json")

    async def data(self, request: web.Request) -> web.StreamResponse:
        """``GET /process/stream/{id}/data``: the data channel's lines as SSE events."""
        stream = self._running(request)
        if stream.hub is None:
            return text_error(
                "Stream data not available: the stream was started without "
                "enable_data_output in the Livepeer header's parameters",
                503,
            )
        response = web.StreamResponse()
        response.headers[hdrs.CONTENT_TYPE] = SSE_CONTENT_TYPE
        response.headers[hdrs.CACHE_CONTROL] = "no-cache"
        await response.prepare(request)
        try:
            async for line in stream.hub.follow():
                await response.write(b"data: " + line.encode() + b"\n\n")
            await response.write(_SSE_END)
        except ConnectionError:
            logger.debug("stream %s: a data reader left", stream.stream_id)
        return response

    async def _to_orchestrator(
        self, stream: GatewayStream, path: str, timeout_seconds: int, body: bytes, content_type: str
    ) -> web.Response:
        job = JobRequest(
            capability=stream.capability,
            timeout_seconds=timeout_seconds,
            request=dumps({"stream_id": stream.stream_id}),
            id=stream.stream_id,
        ).signed()
        headers = {LIVEPEER_HEADER: job.encode(), hdrs.CONTENT_TYPE: content_type}
        timeout = timeout_seconds + 5
        try:
            async with asyncio.timeout(timeout):
                async with self._gw.http.post(
                    stream.orchestrator + path, data=body, headers=headers
                ) as upstream:
                    data = await upstream.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            message = f"the orchestrator {stream.orchestrator} did not answer {path} ({exc!r})"
            self.status.set_error(stream.stream_id, message)
            return text_error(message, 503)
        answer = web.Response(body=data, status=upstream.status)
        if hdrs.CONTENT_TYPE in upstream.headers:
            answer.headers[hdrs.CONTENT_TYPE] = upstream.headers[hdrs.CONTENT_TYPE]
        return answer

    # -- following the orchestrator's channels -------------------------------------------

    async def _events_task(self, stream: GatewayStream) -> None:
        timeout = self._gw.config.events_timeout
        try:
            await follow_events(self._gw.http, stream, self.status, timeout)
        except TrickleTimeoutError as exc:
            if isinstance(exc.__cause__, aiohttp.ClientError):  # unreachable, not silent
                await self._end(stream, f"the stream's events channel failed: {exc}", notify=False)
                return
            await self._end(
                stream, f"no event from the worker within {timeout} s ({exc})", notify=True
            )
            return
        except TrickleError as exc:
            await self._end(stream, f"the stream's events channel failed: {exc}", notify=False)
            return
        except Exception as exc:  # task top: report it in the stream's status
            logger.exception("stream %s: events follower failed", stream.stream_id)
            await self._end(stream, f"events follower failed: {exc!r}", notify=True)
            return
        # The worker (or the orchestrator) closed the events channel: the stream is over.
        # An error, if any, came as an event just before; tell the orchestrator, which
        # may still hold the stream's capacity.
        logger.info("stream %s: events channel closed", stream.stream_id)
        await self._end(stream, None, notify=True)

    async def _data_task(self, stream: GatewayStream, hub: DataHub) -> None:
        try:
            await follow_data(self._gw.http, stream, hub)
        except TrickleError as exc:
            logger.info("stream %s: data channel ended: %s", stream.stream_id, exc)
        except Exception:  # task top: the data readers just see the end
            logger.exception("stream %s: data follower failed", stream.stream_id)
        finally:
            hub.close()

    # -- ending -----------------------------------------------------------------------

    async def _end(self, stream: GatewayStream, error: str | None, *, notify: bool) -> None:
        """Forget ``stream``: status kept a while, readers ended, followers cancelled."""
        if self._streams.get(stream.stream_id) is not stream:
            return
        del self._streams[stream.stream_id]
        if error:
            self.status.set_error(stream.stream_id, error)
        self.status.ended(stream.stream_id)
        if stream.hub is not None:
            stream.hub.close()
        current = asyncio.current_task()
        for task in stream.tasks:
            if task is not current:
                task.cancel()
        if notify:
            await self._to_orchestrator(
                stream, "/ai/stream/stop", _STOP_TIMEOUT_S, b"", "application/json"
            )
        self._gw.routing.add("stream %s ended%s", stream.stream_id, f": {error}" if error else "")

    async def stop_all(self, reason: str) -> None:
        """Stop every stream at its orchestrator (bounded) and forget it (shutdown)."""
        streams = list(self._streams.values())
        try:
            async with asyncio.timeout(_SHUTDOWN_STOP_S):
                await asyncio.gather(*(self._end(s, None, notify=True) for s in streams))
        except TimeoutError:
            logger.warning("orchestrators did not confirm every stop within %s s", _SHUTDOWN_STOP_S)
        for stream in streams:
            logger.info("stream %s stopped: %s", stream.stream_id, reason)

    async def _on_shutdown(self, app: web.Application) -> None:
        for stream in self._streams.values():
            if stream.hub is not None:
                stream.hub.close()


async def _read_stream_body(request: web.Request) -> bytes:
    body = await request.read()
    if len(body) > _STREAM_BODY_MAX:
        raise RequestError(f"request body too large (max {_STREAM_BODY_MAX} bytes)", status=413)
    return body
