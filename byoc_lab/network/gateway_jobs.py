"""The gateway's batch routes: ``/process/request/{path}`` and the quickstart's route.

As go-livepeer (``byoc/job_gateway.go submitJob``): validate the ``Livepeer`` header
(base64 JSON, ``timeout_seconds``, ``request`` and ``parameters`` as JSON strings),
find orchestrators with free capacity for the capability, then send the raw body to
the first one's ``/process/request/{path}`` with the re-signed header, Content-Type
and Content-Length; a connection error, a timeout (``timeout_seconds`` + 5 s) or a
5xx moves on to the next; a 4xx comes back as it is. The answer carries
``Livepeer-Balance``, ``X-Metadata`` and ``X-Orchestrator-Url``.

Deliberate differences from go-livepeer:

- the worker's **Content-Type** comes back with the body (go-livepeer drops it, so Go
  sniffs one and JSON arrives as ``text/plain``);
- when every orchestrator fails the answer is **503** naming each failure (go-livepeer
  writes nothing, which the client sees as 200 with an empty body);
- an SSE answer ends with the ``[DONE]`` event *terminated* by its blank line (go-livepeer
  stops right after the ``[DONE]`` line, which a strict SSE parser discards);
- a capability name and the job path are validated before they reach a header or a
  URL (go-livepeer forwards them as they come).

``POST /live/video-to-video`` with ``X-Model-Id`` is not a go-livepeer route: the seed
quickstart invented it. byoc_lab serves it as a batch job on that capability with
``timeout_seconds = compat_timeout_seconds``, raw body in and raw body out, so the
quickstart's ``send_job.py`` works unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import hdrs, web
from yarl import URL

from byoc_lab.errors import RequestError
from byoc_lab.network.gateway_discovery import Offer, parse_go_duration
from byoc_lab.network.livepeer_header import (
    LIVEPEER_HEADER,
    JobParameters,
    JobRequest,
    parse_job_header,
)
from byoc_lab.network.wire import (
    BALANCE_ZERO,
    HEADER_BALANCE,
    HEADER_METADATA,
    HEADER_MODEL_ID,
    HEADER_ORCH_SEARCH_RESP_TIMEOUT,
    HEADER_ORCH_SEARCH_TIMEOUT,
    HEADER_ORCHESTRATOR_URL,
    SSE_CONTENT_TYPE,
    check_capability,
    check_worker_path,
)

if TYPE_CHECKING:
    from byoc_lab.network.gateway import Gateway

__all__ = ["GatewayJobs", "check_client_job"]

logger = logging.getLogger(__name__)

_PROCESS_PREFIX = "/process/request/"
_MAX_SEARCH_S = 60.0
_EXCERPT = 300
"""Characters of an orchestrator's 5xx answer quoted per failure: enough for byoc_lab's
own orchestrator errors (~230 characters) to arrive whole, with their fix."""


def check_client_job(header: str | None) -> tuple[JobRequest, JobParameters]:
    """Validate a client's ``Livepeer`` header as go-livepeer's gateway does.

    Raises:
        RequestError: 400 naming the field at fault.
    """
    job = parse_job_header(header)
    check_capability(job.capability)
    job.stream_id()
    return job, job.job_parameters()


class GatewayJobs:
    """Batch jobs through one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    def add_routes(self, app: web.Application) -> None:
        """Add ``/process/request/{path}`` and ``/live/video-to-video`` to ``app``."""
        app.router.add_post(_PROCESS_PREFIX + "{path:.*}", self.process)
        app.router.add_post("/live/video-to-video", self.compat)

    async def process(self, request: web.Request) -> web.StreamResponse:
        """``POST /process/request/{path}``: one job, on the first orchestrator that takes it."""
        job, params = check_client_job(request.headers.get(LIVEPEER_HEADER))
        path = request.raw_path.split("?", 1)[0]
        check_worker_path(path[len(_PROCESS_PREFIX) :])
        body = await request.read()
        return await self.run(request, job, params, path, body)

    async def compat(self, request: web.Request) -> web.StreamResponse:
        """``POST /live/video-to-video`` + ``X-Model-Id``: the quickstart's batch job."""
        model = request.headers.get(HEADER_MODEL_ID)
        if not model:
            raise RequestError(
                "X-Model-Id header missing: it names the capability to run",
                field=HEADER_MODEL_ID,
                expected="X-Model-Id: <capability name>, e.g. green-tint-cpu",
            )
        check_capability(model, field=HEADER_MODEL_ID)
        job = JobRequest(capability=model, timeout_seconds=self._gw.config.compat_timeout_seconds)
        body = await request.read()
        return await self.run(request, job, JobParameters(), _PROCESS_PREFIX, body)

    async def run(
        self,
        request: web.Request,
        job: JobRequest,
        params: JobParameters,
        path: str,
        body: bytes,
    ) -> web.StreamResponse:
        """Find orchestrators for ``job`` and send it to them in turn; the first answer wins.

        Raises:
            RequestError: 400 when no orchestrator offers the capability, 503 when every
                one that does failed.
        """
        route = path if request.path.startswith(_PROCESS_PREFIX) else f"{request.path} as {path}"
        self._gw.routing.add(
            "job received from client: %s (POST %s, %d bytes)", job.capability, route, len(body)
        )
        search, resp = _search_timeouts(request)
        discovery = await self._gw.discover(
            job.capability, params.orchestrators, search_timeout=search, resp_timeout=resp
        )
        if not discovery.offers:
            self._gw.routing.add("no orchestrator offers %s", job.capability)
            raise discovery.no_orchestrators(job.capability)
        header = job.signed().encode()
        failures: list[str] = []
        for offer in discovery.offers:
            response = await self._try(request, job, offer, path, body, header, failures)
            if response is not None:
                return response
        self._gw.routing.add("every orchestrator failed for %s", job.capability)
        raise RequestError(
            f"All orchestrators failed for capability {job.capability}: {'; '.join(failures)}",
            status=503,
            fix="check the orchestrators' and workers' logs; the worker may be down",
        )

    async def _try(
        self,
        request: web.Request,
        job: JobRequest,
        offer: Offer,
        path: str,
        body: bytes,
        header: str,
        failures: list[str],
    ) -> web.StreamResponse | None:
        """Send the job to one orchestrator; None (and a failure noted) to try the next."""
        url = offer.target + path
        headers = {LIVEPEER_HEADER: header}
        content_type = request.headers.get(hdrs.CONTENT_TYPE)
        if content_type:
            headers[hdrs.CONTENT_TYPE] = content_type
        timeout = job.timeout_seconds + 5
        started = time.monotonic()
        self._gw.routing.add("forwarded to orchestrator: POST %s", url)
        try:
            async with asyncio.timeout(timeout):
                upstream = await self._gw.http.post(
                    URL(url, encoded=True),
                    data=body,
                    headers=headers,
                    skip_auto_headers=() if content_type else ("Content-Type",),
                )
        except TimeoutError:
            failures.append(f"{offer.target}: no answer within {timeout} s")
            return None
        except aiohttp.ClientError as exc:
            failures.append(f"{offer.target}: unreachable ({type(exc).__name__}: {exc})")
            return None
        try:
            if SSE_CONTENT_TYPE in upstream.headers.get(hdrs.CONTENT_TYPE, ""):
                return await self._relay_sse(request, upstream, offer, job.timeout_seconds + 10)
            try:
                async with asyncio.timeout(timeout):
                    data = await upstream.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                failures.append(f"{offer.target}: the answer broke off ({exc!r})")
                return None
        finally:
            upstream.release()
        if upstream.status >= 500:
            excerpt = data.decode("utf-8", "replace").strip()[:_EXCERPT]
            failures.append(f"{offer.target}: HTTP {upstream.status} {excerpt!r}")
            self._gw.routing.add("orchestrator %s failed (HTTP %d)", offer.target, upstream.status)
            return None
        response = web.Response(body=data, status=upstream.status)
        _copy_headers(upstream, response, offer)
        self._gw.routing.add(
            "response returned to client: HTTP %d, %d bytes from %s in %.0f ms",
            upstream.status,
            len(data),
            offer.target,
            (time.monotonic() - started) * 1000,
        )
        return response

    async def _relay_sse(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        offer: Offer,
        limit_s: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        _copy_headers(upstream, response, offer)
        response.headers[hdrs.CONTENT_TYPE] = SSE_CONTENT_TYPE
        response.headers[hdrs.CACHE_CONTROL] = "no-cache"
        await response.prepare(request)
        deadline = asyncio.get_running_loop().time() + limit_s
        try:
            while True:
                async with asyncio.timeout_at(deadline):
                    line = await upstream.content.readline()
                if not line:
                    break
                text = line.rstrip(b"\n").removesuffix(b"\r")
                await response.write(text + b"\n")
                if b"[DONE]" in text:
                    await response.write(b"\n")  # end the event (go-livepeer leaves it open)
                    break
        except TimeoutError:
            await response.write(b"data: [DONE]\n\n")
        except ValueError:
            logger.warning("SSE line too long from %s: relay cut", offer.target)
        except (ConnectionError, aiohttp.ClientError) as exc:
            logger.info("SSE relay from %s ended early: %r", offer.target, exc)
        self._gw.routing.add("SSE response relayed to client from %s", offer.target)
        return response


def _copy_headers(
    upstream: aiohttp.ClientResponse, response: web.StreamResponse, offer: Offer
) -> None:
    response.headers[HEADER_BALANCE] = upstream.headers.get(HEADER_BALANCE, BALANCE_ZERO)
    response.headers[HEADER_ORCHESTRATOR_URL] = offer.target
    if HEADER_METADATA in upstream.headers:
        response.headers[HEADER_METADATA] = upstream.headers[HEADER_METADATA]
    if hdrs.CONTENT_TYPE in upstream.headers:
        response.headers[hdrs.CONTENT_TYPE] = upstream.headers[hdrs.CONTENT_TYPE]


def _search_timeouts(request: web.Request) -> tuple[float | None, float | None]:
    """The client's ``Livepeer-Orch-Search-*`` durations, when valid (capped at 60 s)."""
    values: list[float | None] = []
    for name in (HEADER_ORCH_SEARCH_TIMEOUT, HEADER_ORCH_SEARCH_RESP_TIMEOUT):
        text = request.headers.get(name)
        seconds = parse_go_duration(text) if text else None
        values.append(min(seconds, _MAX_SEARCH_S) if seconds else None)
    return values[0], values[1]
