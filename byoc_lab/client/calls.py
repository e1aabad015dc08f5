"""One HTTP call from a client to a gateway, and what comes back: :class:`JobResult`.

:func:`call_gateway` is the only place the client touches aiohttp's request API. It
bounds the call with a timeout and turns every failure into a
:class:`~byoc_lab.errors.JobError` that names the URL, the status and the server's
message: a non-2xx answer (``status`` set, ``text`` the body), an unreachable gateway
or a TLS failure (``status`` 0), no answer in time
(:class:`~byoc_lab.errors.JobTimeoutError`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy

from byoc_lab.errors import JobError, JobTimeoutError, ParamError

__all__ = ["JobResult", "call_gateway", "check_base_url", "server_message"]

_EXCERPT: Final = 500
_NO_SESSION_TIMEOUT: Final = aiohttp.ClientTimeout(total=None)
_TLS_FIX: Final = (
    "for a gateway or orchestrator with a self-signed certificate (go-livepeer's default), "
    "create the client with verify_tls=False"
)


@dataclass(frozen=True)
class JobResult:
    """A gateway's answer to one call.

    Attributes:
        status: the HTTP status (2xx: anything else raised a :class:`JobError`).
        body: the answer's bytes.
        content_type: the answer's media type, without parameters ("" if none).
        headers: every answer header (case-insensitive).
        elapsed_ms: milliseconds from sending the request to the end of the body.
        url: the URL that was called.
    """

    status: int
    body: bytes
    content_type: str
    headers: CIMultiDictProxy[str]
    elapsed_ms: float
    url: str

    @property
    def orchestrator_url(self) -> str | None:
        """``X-Orchestrator-Url``: the orchestrator that ran a batch job."""
        return self.headers.get("X-Orchestrator-Url")

    @property
    def balance(self) -> str | None:
        """``Livepeer-Balance``: the sender's balance with that orchestrator (0 offchain)."""
        return self.headers.get("Livepeer-Balance")

    @property
    def metadata(self) -> str | None:
        """``X-Metadata``: what the worker said about the result, untouched."""
        return self.headers.get("X-Metadata")

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON, whatever the content type.

        go-livepeer's gateway does not pass the worker's Content-Type on, so JSON
        arrives there as ``text/plain``.

        Raises:
            ValueError: the body is not JSON.
        """
        return json.loads(self.body)

    def __repr__(self) -> str:
        return (
            f"<JobResult {self.status} {self.content_type or '?'} {len(self.body):,} bytes "
            f"in {self.elapsed_ms:.1f} ms>"
        )


def check_base_url(url: str, *, what: str = "gateway URL") -> str:
    """Return ``url`` without a trailing slash if it is an http(s) URL.

    Raises:
        ParamError: anything else.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ParamError(
            f"the {what} must start with http:// or https://",
            got=repr(url)[:80],
            fix="e.g. http://127.0.0.1:8935 (go-livepeer's gateway listens on its -httpAddr)",
        )
    return url.rstrip("/")


def server_message(text: str) -> str:
    """The useful part of an error answer: ``message``/``error`` of a JSON body, else the text."""
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except ValueError:
        return stripped[:_EXCERPT]
    if isinstance(data, dict):
        for key in ("message", "error", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value[:_EXCERPT]
    return stripped[:_EXCERPT]


async def call_gateway(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    seconds: float,
    data: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> JobResult:
    """Send one request and read the whole answer within ``seconds``.

    Args:
        http: the client's session (its connector decides TLS verification).
        method: ``GET`` or ``POST``.
        url: the full URL.
        what: what the call does, for error messages (e.g. ``"the batch job"``).
        seconds: time allowed for the request and the whole body.
        data: the request body.
        headers: request headers; without a Content-Type none is sent.

    Raises:
        JobError: a non-2xx answer (``status``, ``text``), or no connection / a TLS
            failure (``status`` 0).
        JobTimeoutError: no complete answer within ``seconds``.
    """
    sent = dict(headers or {})
    skip = () if hdrs.CONTENT_TYPE in sent else (hdrs.CONTENT_TYPE,)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            async with http.request(
                method,
                url,
                data=data,
                headers=sent,
                skip_auto_headers=skip,
                timeout=_NO_SESSION_TIMEOUT,  # asyncio.timeout above is the one bound
            ) as response:
                body = await response.read()
    except TimeoutError as exc:
        raise JobTimeoutError(
            f"{what}: no answer from {url} within {seconds:g} s",
            url=url,
            fix="raise timeout_seconds, or check the gateway's and worker's logs",
        ) from exc
    except aiohttp.ClientSSLError as exc:
        raise JobError(
            f"{what}: TLS handshake with {url} failed ({exc})", url=url, fix=_TLS_FIX
        ) from exc
    except aiohttp.ClientError as exc:
        raise JobError(
            f"{what}: cannot reach {url} ({type(exc).__name__}: {exc})",
            url=url,
            fix="check the gateway URL and that the gateway is running",
        ) from exc
    result = JobResult(
        status=response.status,
        body=body,
        content_type=response.content_type if hdrs.CONTENT_TYPE in response.headers else "",
        headers=CIMultiDictProxy(CIMultiDict(response.headers)),
        elapsed_ms=(time.perf_counter() - started) * 1000,
        url=url,
    )
    if not 200 <= result.status < 300:
        text = result.text()
        raise JobError(
            f"{what}: {method} {url} answered HTTP {result.status}: "
            f"{server_message(text) or '(empty body)'}",
            status=result.status,
            url=url,
            text=text,
        )
    return result
