"""What byoc_lab's orchestrator and gateway share as HTTP servers.

- :class:`AppServer`: serve an aiohttp application on ``host:port`` inside a loop that
  is already running (``AppRunner``/``TCPSite``), like :class:`~byoc_lab.worker.WorkerServer`.
- :func:`error_middleware`: every rejection answers as go-livepeer's ``http.Error``
  does, ``text/plain`` with the message and a newline, so clients see the same shape
  from byoc_lab as from go-livepeer; nothing a client sends produces a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from byoc_lab.errors import RequestError, RuntimeStateError

__all__ = ["DEFAULT_HOST", "MAX_BODY_KEY", "AppServer", "error_middleware", "text_error"]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY_KEY = web.AppKey("byoc_lab.network.max_body_bytes", int)
"""``app[MAX_BODY_KEY]``: the body limit the app was built with (named in 413 answers)."""


def text_error(message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    """A go-livepeer style error: ``text/plain``, the message and a newline."""
    response = web.Response(
        text=message.rstrip("\n") + "\n", status=status, content_type="text/plain", charset="utf-8"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if headers:
        response.headers.update(headers)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn :class:`RequestError` and aiohttp's HTTP errors into text answers."""
    try:
        return await handler(request)
    except RequestError as exc:
        return text_error(str(exc), exc.status)
    except web.HTTPRequestEntityTooLarge as exc:
        limit = request.app.get(MAX_BODY_KEY, 0)
        logger.info("%s %s: body over %d bytes refused", request.method, request.path, limit)
        return text_error(
            f"request body too large (max {limit} bytes). Fix: send a smaller body, or "
            "start the server with a larger max_body_bytes",
            exc.status,
        )
    except web.HTTPException as exc:
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise
        return text_error(exc.text or exc.reason, exc.status)


class AppServer:
    """One aiohttp application listening on ``host:port``; start and stop on its loop.

    Subclasses provide :meth:`build_app`. The application's ``cleanup_ctx`` owns every
    background task, so :meth:`stop` cancels and awaits them all.
    """

    kind = "server"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.host = DEFAULT_HOST
        self.port = 0

    def build_app(self) -> web.Application:
        """The application to serve (called once per :meth:`start`)."""
        raise NotImplementedError

    def on_listening(self, url: str) -> None:
        """Called once the socket is bound, before :meth:`start` returns ``url``."""

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8936``.

        Raises:
            RuntimeStateError: not running.
        """
        if self._runner is None:
            raise RuntimeStateError(f"the {self.kind} is not running", fix="call start() first")
        host = DEFAULT_HOST if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    async def start(self, host: str = DEFAULT_HOST, port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port) and return the base URL.

        Raises:
            RuntimeStateError: already running.
            OSError: the address is in use or cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeStateError(f"the {self.kind} is already running at {self.url}")
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        self.on_listening(self.url)
        logger.info("%s listening on %s", self.kind, self.url)
        return self.url

    async def stop(self) -> None:
        """Stop serving, end every background task and close the socket (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("%s on port %d stopped", self.kind, self.port)
