"""What the trickle publisher and subscriber share: session factory, retry policy, errors.

Clients never create their own :class:`aiohttp.ClientSession`: the caller passes one in
(so tests, notebooks and the worker decide on TLS, connection limits and lifetime).
:func:`make_session` builds a suitable one. TLS verification stays on unless the caller
turns it off explicitly, e.g. for a go-livepeer orchestrator's self-signed certificate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import aiohttp

from byoc_lab.errors import (
    ParamError,
    StreamClosedError,
    StreamNotFoundError,
    TrickleError,
    TrickleHTTPError,
)

from .wire import HEADER_CLOSED

__all__ = ["RetryPolicy", "make_session", "status_error", "tls_error"]

logger = logging.getLogger(__name__)

_BODY_EXCERPT = 200


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Bounds on every wait and retry of a trickle client.

    Attributes:
        attempts: tries per request for failures worth retrying (connection errors,
            5xx, 404 while a channel is being created, repeated 470s); at least 1.
        delay: seconds between tries.
        connect_timeout: seconds to open a connection.
        read_timeout: seconds without progress once a transfer runs: between chunks of
            a segment being read, for a stalled upload, for a POST's answer.
        wait_timeout: seconds a subscriber waits for the next segment to start (the
            deliberate long-poll of trickle). None waits without limit, as go-livepeer
            does; only pass None when something else can cancel the wait.

    Raises:
        ParamError: a bound is zero or negative.
    """

    attempts: int = 5
    delay: float = 0.5
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    wait_timeout: float | None = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ParamError("RetryPolicy.attempts must be at least 1")
        if self.delay < 0:
            raise ParamError("RetryPolicy.delay must not be negative")
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise ParamError(f"RetryPolicy.{name} must be a positive number")
        if self.wait_timeout is not None and self.wait_timeout <= 0:
            raise ParamError("RetryPolicy.wait_timeout must be positive or None")

    def client_timeout(self) -> aiohttp.ClientTimeout:
        """The per-request aiohttp timeout: connect bounds only.

        Trickle requests are long-polls and long uploads, so there is no total bound;
        the clients bound waits and reads themselves with ``asyncio.timeout``.
        """
        return aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout, sock_connect=self.connect_timeout
        )


def make_session(*, verify_tls: bool = True) -> aiohttp.ClientSession:
    """A client session for trickle publishers and subscribers; call it from a coroutine.

    The caller owns the session and must close it (``async with make_session() as s``).

    Args:
        verify_tls: check server certificates. Pass False only for a server whose
            self-signed certificate you trust, such as a local go-livepeer orchestrator.
    """
    if not verify_tls:
        logger.info("trickle session created with TLS certificate verification OFF")
    connector = aiohttp.TCPConnector(ssl=verify_tls)
    return aiohttp.ClientSession(connector=connector)


def status_error(
    status: int, headers: Mapping[str, str], url: str, body: str, *, doing: str
) -> TrickleError:
    """The typed error for a trickle answer that is not a usable 200.

    ``Lp-Trickle-Closed`` maps to :class:`StreamClosedError`, 404 to
    :class:`StreamNotFoundError`, anything else to :class:`TrickleHTTPError`.
    """
    if HEADER_CLOSED in headers:
        return StreamClosedError(f"cannot {doing} at {url}: the channel is closed", url=url)
    if status == HTTPStatus.NOT_FOUND:
        return StreamNotFoundError(
            f"cannot {doing} at {url}: the trickle channel does not exist",
            url=url,
            fix="create the channel first (or check the URL); a deleted channel answers 404",
        )
    excerpt = body.strip()[:_BODY_EXCERPT]
    return TrickleHTTPError(
        f"cannot {doing} at {url}: the trickle server answered HTTP {status}",
        status=status,
        url=url,
        got=repr(excerpt) if excerpt else None,
    )


def tls_error(url: str, exc: aiohttp.ClientSSLError) -> TrickleError:
    """The error for a TLS handshake that failed; never worth retrying."""
    return TrickleError(
        f"TLS handshake with {url} failed: {exc}",
        url=url,
        fix="for a go-livepeer orchestrator's self-signed certificate, use "
        "make_session(verify_tls=False)",
    )
