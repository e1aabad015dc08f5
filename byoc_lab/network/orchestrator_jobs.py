"""The orchestrator's registration, token and batch-job routes.

Behaviour is go-livepeer's ``byoc/job_orchestrator.go`` except where it is a bug or
an unsafe default; each such difference is deliberate:

- The secret is compared in constant time (``hmac.compare_digest``), and a registration
  must name a valid capability, an http(s) worker URL and a capacity of at least 1
  (go-livepeer accepts an empty name and capacity 0).
- A signature is hex-decoded after stripping ``0x`` whatever its length, so a
  go-livepeer offchain gateway's ``"0x"`` is accepted (go-livepeer rejects it).
- Capacity is checked when it is reserved: beyond it the job gets 503 "No capacity
  available for capability" and is never queued (go-livepeer counts past capacity and
  relies on the gateway reading ``available_capacity`` from the token). It is freed on
  every path, including a ``request`` that is not JSON (go-livepeer leaks it there).
- A worker that cannot be connected to loses its capability, as in go-livepeer, but the
  job answers **503** (go-livepeer: 500); a worker that times out answers 504 (500)
  and keeps its capability. A worker's 4xx/5xx passes back with its own status, body
  and Content-Type (go-livepeer rewraps it as ``text/plain``).
- SSE answers are proxied line by line with ``data: {"balance": 0.000}`` before the
  line holding ``[DONE]`` (go-livepeer's exact bytes), and end when the worker's stream
  ends (go-livepeer then writes empty lines until ``timeout_seconds`` runs out).
- ``X-Metadata`` is copied back only when the worker sent it (go-livepeer always sets
  it, empty). The query string is not forwarded, as in go-livepeer.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import hdrs, web
from yarl import URL

from byoc_lab.errors import RequestError
from byoc_lab.network.hosting import text_error
from byoc_lab.network.livepeer_header import (
    LIVEPEER_HEADER,
    JobRequest,
    JobSender,
    decode_signature,
    parse_job_header,
)
from byoc_lab.network.orchestrator_registry import Capability
from byoc_lab.network.wire import (
    BALANCE_ZERO,
    HEADER_BALANCE,
    HEADER_CAPABILITY,
    HEADER_ETH_ADDRESS,
    HEADER_METADATA,
    HEADER_PAYMENT_BALANCE,
    SSE_CONTENT_TYPE,
    JobToken,
    check_capability,
    check_worker_path,
)

if TYPE_CHECKING:
    from byoc_lab.network.orchestrator import Orchestrator

__all__ = ["JobHandlers", "check_job"]

logger = logging.getLogger(__name__)

_PROCESS_PREFIX = "/process/request/"
_SSE_LINE_MAX = 64 * 1024
_SSE_BALANCE = b'data: {"balance": 0.000}\n\n'
_SSE_DONE = b"data: [DONE]\n\n"


def check_job(header: str | None) -> JobRequest:
    """Parse and verify a job header as the orchestrator does (signature hex offchain).

    Raises:
        RequestError: 400 naming the field at fault.
    """
    job = parse_job_header(header)
    check_capability(job.capability)
    decode_signature(job.sig)
    job.stream_id()  # go-livepeer decodes ``request`` for every job
    return job


def is_connect_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the worker could not be reached (not a timeout)."""
    return isinstance(exc, aiohttp.ClientConnectionError) and not isinstance(exc, TimeoutError)


class JobHandlers:
    """``/capability/*``, ``/process/token`` and ``/process/request/*`` of one orchestrator."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orch = orchestrator

    def add_routes(self, app: web.Application) -> None:
        """Add this group's routes to ``app``."""
        app.router.add_post("/capability/register", self.register)
        app.router.add_post("/capability/unregister", self.unregister)
        app.router.add_get("/process/token", self.token)
        app.router.add_post(_PROCESS_PREFIX + "{path:.*}", self.process)

    # -- registration ---------------------------------------------------------------

    def _check_secret(self, request: web.Request) -> None:
        given = request.headers.get(hdrs.AUTHORIZATION, "").encode()
        if not hmac.compare_digest(given, self._orch.secret.encode()):
            logger.warning("registration refused from %s: wrong secret", request.remote)
            raise RequestError(
                "invalid authorization: send the orchestrator secret as the raw Authorization "
                "header value (no 'Bearer'), the same as the orchestrator's -orchSecret"
            )

    async def register(self, request: web.Request) -> web.Response:
        """``POST /capability/register``: add or replace a capability (200 ``ok``)."""
        self._check_secret(request)
        capability = Capability.parse(await request.read())
        self._orch.register(capability, source=f"from {request.remote}")
        return web.Response(text="ok", content_type="application/json")

    async def unregister(self, request: web.Request) -> web.Response:
        """``POST /capability/unregister``: body is the capability name (200 ``ok``)."""
        self._check_secret(request)
        name = (await request.read()).decode("utf-8", "replace").strip()
        check_capability(name, field="body")
        self._orch.unregister(name)
        return web.Response(text="ok", content_type="application/json")

    # -- tokens -----------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        """``GET /process/token``: a ``JobToken`` with price 0 and the free capacity."""
        sender_header = request.headers.get(HEADER_ETH_ADDRESS)
        if not sender_header:
            raise RequestError(
                "Must have eth address and signature on address in Livepeer-Eth-Address header",
                field=HEADER_ETH_ADDRESS,
            )
        sender = JobSender.parse(sender_header)
        name = request.headers.get(HEADER_CAPABILITY, "")
        if not name:
            raise RequestError(
                "Job capabilities not provided, must provide comma separated capabilities in "
                "Livepeer-Capability header",
                field=HEADER_CAPABILITY,
            )
        token = JobToken(
            service_addr=self._orch.base_url(request),
            available_capacity=self._orch.registry.available(name),
            sender=sender,
        )
        logger.debug("token for %r: capacity %d", name[:64], token.available_capacity)
        return web.Response(text=token.to_json(), content_type="application/json")

    # -- batch jobs -------------------------------------------------------------------

    async def process(self, request: web.Request) -> web.StreamResponse:
        """``POST /process/request/{path}``: run one job on the capability's worker."""
        job = check_job(request.headers.get(LIVEPEER_HEADER))
        raw_path = request.raw_path.split("?", 1)[0]
        tail = check_worker_path(raw_path[len(_PROCESS_PREFIX) :])
        body = await request.read()
        routing = self._orch.routing
        routing.add(
            "job received from gateway: %s (POST /%s, %d bytes)", job.capability, tail, len(body)
        )
        capability = self._orch.registry.reserve(job.capability)
        try:
            return await self._forward(request, job, capability, tail, body)
        finally:
            self._orch.registry.free(capability.name)

    async def _forward(
        self,
        request: web.Request,
        job: JobRequest,
        capability: Capability,
        tail: str,
        body: bytes,
    ) -> web.StreamResponse:
        url = capability.url + ("/" + tail if tail else "")
        headers: dict[str, str] = {}
        if hdrs.CONTENT_TYPE in request.headers:
            headers[hdrs.CONTENT_TYPE] = request.headers[hdrs.CONTENT_TYPE]
        if capability.token:
            headers[hdrs.AUTHORIZATION] = f"Bearer {capability.token}"
        timeout = job.timeout_seconds
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + timeout
        self._orch.routing.add("forwarded to worker: POST %s", url)
        try:
            async with asyncio.timeout_at(deadline):
                upstream = await self._orch.http.post(
                    URL(url, encoded=True),
                    data=body,
                    headers=headers,
                    skip_auto_headers=() if headers.get(hdrs.CONTENT_TYPE) else ("Content-Type",),
                )
        except TimeoutError:
            return self._timed_out(capability, timeout)
        except aiohttp.ClientError as exc:
            if not is_connect_error(exc):
                return text_error(f"job not able to be processed: the worker failed: {exc}", 502)
            self._orch.unregister(capability.name)
            self._orch.routing.add(
                "worker unreachable, capability removed: %s (%s)", capability.name, exc
            )
            return text_error(
                f"job not able to be processed, removing capability err={exc}. Fix: restart the "
                f"worker at {capability.url} and register it again",
                503,
                {HEADER_BALANCE: BALANCE_ZERO},
            )
        try:
            if SSE_CONTENT_TYPE in upstream.headers.get(hdrs.CONTENT_TYPE, ""):
                return await self._proxy_sse(request, upstream, capability, started, deadline)
            try:
                async with asyncio.timeout_at(deadline):
                    data = await _read_limited(upstream, self._orch.config.max_body_bytes)
            except TimeoutError:
                return self._timed_out(capability, timeout)
            except aiohttp.ClientError as exc:
                return text_error(f"job not able to be processed: the worker failed: {exc}", 502)
            return self._answer(upstream, data, capability, started)
        finally:
            upstream.release()

    def _timed_out(self, capability: Capability, timeout: int) -> web.Response:
        self._orch.routing.add(
            "worker for %s did not answer within timeout_seconds=%d", capability.name, timeout
        )
        return text_error(
            f"job not able to be processed: the worker at {capability.url} did not answer "
            f"within timeout_seconds={timeout}. Fix: raise timeout_seconds in the Livepeer "
            "header, or make the worker faster",
            504,
            {HEADER_BALANCE: BALANCE_ZERO},
        )

    def _answer(
        self,
        upstream: aiohttp.ClientResponse,
        data: bytes,
        capability: Capability,
        started: float,
    ) -> web.Response:
        elapsed_ms = (time.monotonic() - started) * 1000
        if upstream.status == 401:
            self._orch.unregister(capability.name)
            self._orch.routing.add("worker refused the token, capability removed: %s", capability)
            return text_error(
                "job not able to be processed, removing capability err=worker auth token failed",
                500,
                {HEADER_BALANCE: BALANCE_ZERO},
            )
        response = web.Response(body=data, status=upstream.status)
        response.headers[HEADER_BALANCE] = BALANCE_ZERO
        if hdrs.CONTENT_TYPE in upstream.headers:
            response.headers[hdrs.CONTENT_TYPE] = upstream.headers[hdrs.CONTENT_TYPE]
        if HEADER_METADATA in upstream.headers:
            response.headers[HEADER_METADATA] = upstream.headers[HEADER_METADATA]
        self._orch.routing.add(
            "worker response received, returning to gateway: HTTP %d, %d bytes in %.0f ms",
            upstream.status,
            len(data),
            elapsed_ms,
        )
        return response

    async def _proxy_sse(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        capability: Capability,
        started: float,
        deadline: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        response.headers[hdrs.CONTENT_TYPE] = SSE_CONTENT_TYPE
        response.headers[hdrs.CACHE_CONTROL] = "no-cache"
        response.headers[HEADER_BALANCE] = BALANCE_ZERO
        response.headers[HEADER_PAYMENT_BALANCE] = BALANCE_ZERO
        if HEADER_METADATA in upstream.headers:
            response.headers[HEADER_METADATA] = upstream.headers[HEADER_METADATA]
        await response.prepare(request)
        self._orch.routing.add("worker streams its response (SSE), relaying to gateway")
        lines = 0
        try:
            while True:
                async with asyncio.timeout_at(deadline):
                    line = await upstream.content.readline()
                if not line:
                    break
                text = line.rstrip(b"\n").removesuffix(b"\r")
                if len(text) > _SSE_LINE_MAX:
                    logger.warning("SSE line over %d bytes from %s", _SSE_LINE_MAX, capability.url)
                    break
                if b"[DONE]" in text:
                    await response.write(_SSE_BALANCE)
                await response.write(text + b"\n")
                lines += 1
        except TimeoutError:  # go-livepeer's ending when timeout_seconds runs out
            await response.write(_SSE_BALANCE + _SSE_DONE)
        except ValueError:  # aiohttp: a line longer than its read buffer
            logger.warning("SSE line too long from %s: cut", capability.url)
        except (ConnectionError, aiohttp.ClientError) as exc:
            logger.info("SSE relay from %s ended early: %r", capability.url, exc)
        self._orch.routing.add(
            "worker response relayed to gateway: %d SSE lines in %.0f ms",
            lines,
            (time.monotonic() - started) * 1000,
        )
        return response


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read a whole body of at most ``limit`` bytes.

    Raises:
        RequestError: 502 when the body is longer.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise RequestError(
                f"the worker's answer is larger than {limit} bytes",
                status=502,
                fix="raise max_body_bytes, or return less",
            )
        chunks.append(chunk)
    return b"".join(chunks)
