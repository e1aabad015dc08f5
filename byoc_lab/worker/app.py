"""The worker's HTTP API, route for route compatible with pytrickle 0.1.6.

==========================================  ==============================================
``POST /stream/start`` (+ ``/api/…``,        start a live stream (go-livepeer's orchestrator
``/live-video-to-video``)                    calls it with ``X-Stream-Id``)
``POST /stream/params`` (+ ``/api/…``)       update parameters of a live stream
``POST /stream/stop`` (+ ``/api/…``)         stop a live stream
``GET /stream/status`` (+ ``/api/…``)        pytrickle's status JSON plus byoc_lab's extras
``GET /health``                              ``{"status": LOADING|IDLE|OK|ERROR}``, always 200
``GET /version``, ``/hardware/info|stats``   as pytrickle
``POST /{any other path}``                   a batch job (go-livepeer forwards
                                             ``/process/request/{path}`` here)
==========================================  ==============================================

Errors answer ``{"status": "error", "message": …}`` with a 4xx that says what was
wrong; nothing a client sends produces a 5xx or a traceback. Only a processor that
raises on a batch job gives 500 (go-livepeer then tries another orchestrator).
"""

from __future__ import annotations

import hmac
import logging
import platform
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from byoc_lab import __version__
from byoc_lab.errors import ByocLabError, RequestError
from byoc_lab.worker.api import parse_json_object, parse_start_body, validate_stream_params
from byoc_lab.worker.core import WorkerCore

__all__ = ["CORE_KEY", "create_worker_app"]

logger = logging.getLogger(__name__)

CORE_KEY: web.AppKey[WorkerCore] = web.AppKey("byoc_lab_worker_core", WorkerCore)
STREAM_ID_HEADER = "X-Stream-Id"
_PREFIXES = ("", "/api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_worker_app(core: WorkerCore) -> web.Application:
    """Build the aiohttp app serving ``core``; its cleanup closes the core."""
    app = web.Application(
        client_max_size=core.config.max_body_bytes,
        middlewares=[_errors_middleware, _auth_middleware],
    )
    app[CORE_KEY] = core
    for prefix in _PREFIXES:
        app.router.add_post(f"{prefix}/stream/start", _start)
        app.router.add_post(f"{prefix}/stream/params", _params)
        app.router.add_post(f"{prefix}/stream/stop", _stop)
        app.router.add_get(f"{prefix}/stream/status", _status)
    app.router.add_post("/live-video-to-video", _start)
    app.router.add_get("/health", _health)
    app.router.add_get("/version", _version)
    app.router.add_get("/hardware/info", _hardware)
    app.router.add_get("/hardware/stats", _hardware)
    app.router.add_post("/{path:.*}", _batch)

    async def lifecycle(app: web.Application) -> Any:
        await core.open()
        yield
        await core.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"status": "error", "message": message}, status=status)


@web.middleware
async def _errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return _error(str(exc), exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.text or exc.reason, exc.status)
        raise
    except ByocLabError as exc:
        return _error(str(exc), 400)


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[CORE_KEY].config.token
    if token is not None and request.method == "POST":
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise RequestError(
                "missing or wrong bearer token",
                status=401,
                field="Authorization",
                expected="Authorization: Bearer <the token this worker was registered with>",
            )
    return await handler(request)


async def _start(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    body = parse_start_body(
        await request.read(), request.content_type, request.headers.get(STREAM_ID_HEADER)
    )
    await core.start_stream(body)
    return web.json_response(
        {
            "status": "success",
            "message": "Stream started successfully",
            "request_id": body.gateway_request_id,
        }
    )


async def _params(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    params = validate_stream_params(
        parse_json_object(await request.read(), request.content_type, what="/stream/params")
    )
    await core.update_stream(params, request.headers.get(STREAM_ID_HEADER))
    return web.json_response({"status": "success", "message": "Parameters updated successfully"})


async def _stop(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    await request.read()  # the body is ignored, as pytrickle does
    await core.stop_stream(request.headers.get(STREAM_ID_HEADER))
    return web.json_response({"status": "success", "message": "Stream stopped successfully"})


async def _status(request: web.Request) -> web.Response:
    return web.json_response(request.app[CORE_KEY].status())


async def _health(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    payload: dict[str, Any] = {"status": core.health.value}
    if core.error:
        payload["error"] = core.error
    return web.json_response(payload)


async def _version(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    return web.json_response(
        {"pipeline": "byoc", "model_id": core.config.capability, "version": __version__}
    )


async def _hardware(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    return web.json_response(
        {
            "pipeline": "byoc",
            "model_id": core.config.capability,
            "gpu_info": {},
            "machine": platform.machine(),
        }
    )


async def _batch(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    body = await request.read()
    try:
        result = await core.batch(body, request.headers.get("Content-Type", ""))
    except ByocLabError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's process() failed: report as 500
        logger.warning("batch job on %s failed: %s: %s", request.path, type(exc).__name__, exc)
        return _error(f"process() raised {type(exc).__name__}: {exc}", 500)
    return web.Response(body=result.body, content_type=result.content_type)
