"""What byoc_lab's orchestrator and gateway share as HTTP servers.

- :class:`~byoc_lab.serving.AppServer` (re-exported): serve an app on ``host:port``.
- :func:`error_middleware`: every rejection answers as go-livepeer's ``http.Error``
  does, ``text/plain`` with the message and a newline, so clients see the same shape
  from byoc_lab as from go-livepeer; nothing a client sends produces a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from byoc_lab.errors import RequestError
from byoc_lab.serving import DEFAULT_HOST, AppServer

__all__ = ["DEFAULT_HOST", "MAX_BODY_KEY", "AppServer", "error_middleware", "text_error"]

logger = logging.getLogger(__name__)

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
