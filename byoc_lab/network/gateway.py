"""An offchain BYOC gateway in pure Python, speaking go-livepeer's wire format.

==========================================  =============================================
``POST /process/request/{path}``            a batch job (``Livepeer`` header, raw body)
``POST /process/stream/start``              start a stream (``StartRequest`` body)
``POST /process/stream/{id}/update``        new params for the worker (raw JSON body)
``POST /process/stream/{id}/stop``          stop it
``GET /process/stream/{id}/status``         the status store's JSON for the stream
``GET /process/stream/{id}/data``           the data channel as SSE
``POST /live/video-to-video``               the seed quickstart's route: a batch job on
                                            the capability in ``X-Model-Id``
==========================================  =============================================

Behaviour follows go-livepeer's ``byoc/job_gateway.go`` and ``byoc/stream_gateway.go``
(wire doc §1.2-§1.4); :mod:`~byoc_lab.network.gateway_jobs` and
:mod:`~byoc_lab.network.gateway_streams` say where, and why, byoc_lab differs. The
gateway moves no media: a client publishes input to, and reads output from, the
orchestrator's trickle URLs that ``/process/stream/start`` returns (go-livepeer's
gateway would relay WHIP/RTMP there through MediaMTX instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from byoc_lab.errors import ParamError, RuntimeStateError
from byoc_lab.network.gateway_discovery import Discovery, discover
from byoc_lab.network.gateway_jobs import GatewayJobs
from byoc_lab.network.gateway_streams import GatewayStreams, StreamView
from byoc_lab.network.hosting import MAX_BODY_KEY, AppServer, error_middleware
from byoc_lab.network.livepeer_header import OrchestratorFilter
from byoc_lab.network.routing_log import RoutingLog

__all__ = ["GATEWAY_KEY", "Gateway", "GatewayConfig", "GatewayServer"]

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """How a :class:`Gateway` runs.

    Attributes:
        orchestrators: base URLs of the orchestrators to use (go-livepeer's
            ``-orchAddr``), e.g. ``("http://127.0.0.1:8936",)``; include/exclude lists
            in jobs compare against these exact strings.
        verify_tls: verify orchestrators' TLS certificates (go-livepeer never does;
            turn off for a go-livepeer orchestrator's self-signed certificate).
        public_url: base of the URLs in ``StreamUrls`` (go-livepeer's ``-gatewayHost``);
            None: the scheme and Host of the request.
        max_body_bytes: largest batch body (413 beyond); stream bodies are limited to
            10 MiB as in go-livepeer.
        search_timeout: seconds the orchestrator search may take in all.
        search_resp_timeout: seconds each orchestrator's token may take.
        compat_timeout_seconds: ``timeout_seconds`` of quickstart-route jobs.
        events_timeout: seconds without a worker event after which a stream is stopped
            (go-livepeer's 30 s watchdog); None disables the watchdog.
        status_linger: seconds a stream's status stays readable after it ended.
        routing_log_size: routing-log lines kept in memory.

    Raises:
        ParamError: an orchestrator URL that is not http(s), or a non-positive limit.
    """

    orchestrators: tuple[str, ...] = ()
    verify_tls: bool = True
    public_url: str | None = None
    max_body_bytes: int = 64 * _MIB
    search_timeout: float = 1.0
    search_resp_timeout: float = 0.5
    compat_timeout_seconds: int = 30
    events_timeout: float | None = 30.0
    status_linger: float = 60.0
    routing_log_size: int = 200

    def __post_init__(self) -> None:
        object.__setattr__(self, "orchestrators", _check_pool(self.orchestrators))
        numbers = (
            self.max_body_bytes,
            self.search_timeout,
            self.search_resp_timeout,
            self.compat_timeout_seconds,
            self.status_linger,
            self.routing_log_size,
        )
        if min(numbers) <= 0 or (self.events_timeout is not None and self.events_timeout <= 0):
            raise ParamError("GatewayConfig limits and timeouts must be positive")
        if self.public_url is not None:
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))


def _check_pool(urls: Sequence[str]) -> tuple[str, ...]:
    pool: list[str] = []
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ParamError(
                "an orchestrator URL must start with http:// or https://",
                got=repr(url[:80]),
                fix="e.g. http://127.0.0.1:8936 (go-livepeer's -orchAddr adds https://)",
            )
        pool.append(url.rstrip("/"))
    return tuple(pool)


class Gateway:
    """An offchain BYOC gateway: finds orchestrators, forwards jobs, tracks streams.

    Build its application with :meth:`make_app` or :meth:`setup`; serve it with
    :class:`GatewayServer`. The application's cleanup owns the HTTP client session and
    every stream task, stops running streams at their orchestrators (bounded), and
    cancels and awaits every task. Methods run on the loop serving the application.

    Args:
        config: how it runs; ``GatewayConfig()`` when omitted.
    """

    def __init__(self, config: GatewayConfig | None = None) -> None:
        self.config = config if config is not None else GatewayConfig()
        self.routing = RoutingLog(logger, self.config.routing_log_size)
        self._pool = list(self.config.orchestrators)
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attached = False
        self.jobs = GatewayJobs(self)
        self.stream_manager = GatewayStreams(self)

    # -- Python API -------------------------------------------------------------------

    @property
    def orchestrators(self) -> tuple[str, ...]:
        """The orchestrator URLs in use, in the order they are tried."""
        return tuple(self._pool)

    def set_orchestrators(self, urls: Sequence[str]) -> None:
        """Replace the orchestrator list (e.g. once an orchestrator's port is known).

        Raises:
            ParamError: a URL that is not http(s).
        """
        self._pool = list(_check_pool(urls))

    def streams(self) -> list[StreamView]:
        """The streams this gateway started that are still running."""
        return self.stream_manager.views()

    def status(self, stream_id: str) -> dict[str, Any] | None:
        """The status JSON of ``stream_id`` (as ``/status`` serves it), or None."""
        return self.stream_manager.status.get(stream_id)

    async def discover(
        self,
        capability: str,
        allowed: OrchestratorFilter | None = None,
        *,
        search_timeout: float | None = None,
        resp_timeout: float | None = None,
    ) -> Discovery:
        """Ask the orchestrators for tokens for ``capability`` (see :func:`discover`)."""
        return await discover(
            self.http,
            self._pool,
            capability,
            allowed if allowed is not None else OrchestratorFilter(),
            search_timeout=(
                search_timeout if search_timeout is not None else self.config.search_timeout
            ),
            resp_timeout=(
                resp_timeout if resp_timeout is not None else self.config.search_resp_timeout
            ),
        )

    # -- hosting ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """A new application serving this gateway."""
        app = web.Application(client_max_size=self.config.max_body_bytes)
        self.setup(app)
        return app

    def setup(self, app: web.Application) -> None:
        """Add the routes and the lifecycle to ``app`` (once, before it starts).

        Installs :func:`~byoc_lab.network.hosting.error_middleware` too; body limits are
        the application's (``client_max_size``), which :meth:`make_app` sets.

        Raises:
            RuntimeStateError: already attached to an application.
        """
        if self._attached:
            raise RuntimeStateError(
                "this Gateway is already attached to an aiohttp application",
                fix="create one Gateway per application",
            )
        self._attached = True
        if error_middleware not in app.middlewares:
            app.middlewares.append(error_middleware)
        app[GATEWAY_KEY] = self
        app[MAX_BODY_KEY] = self.config.max_body_bytes
        self.jobs.add_routes(app)
        self.stream_manager.add_routes(app)
        app.cleanup_ctx.append(self._lifecycle)

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client session for orchestrator calls (exists while the app runs).

        Raises:
            RuntimeStateError: the application is not running.
        """
        if self._http is None:
            raise RuntimeStateError("the gateway is not running", fix="start it first")
        return self._http

    def public_base(self, request: web.Request) -> str:
        """Base of the gateway URLs handed to clients."""
        if self.config.public_url is not None:
            return self.config.public_url
        return f"{request.scheme}://{request.host}"

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the application cancels and awaits at cleanup."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(ssl=self.config.verify_tls)
        self._http = aiohttp.ClientSession(connector=connector)
        try:
            yield
        finally:
            await self.stream_manager.stop_all("the gateway is shutting down")
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._http.close()
            self._http = None


GATEWAY_KEY = web.AppKey("byoc_lab.network.gateway", Gateway)
"""``app[GATEWAY_KEY]`` is the :class:`Gateway` attached to ``app``."""


class GatewayServer(AppServer):
    """A :class:`Gateway` listening on ``host:port`` (``start()``/``stop()``).

    Args:
        config: the gateway's configuration (or pass ``gateway=``).
        gateway: an existing :class:`Gateway` to serve.
    """

    kind = "gateway"

    def __init__(
        self, config: GatewayConfig | None = None, *, gateway: Gateway | None = None
    ) -> None:
        super().__init__()
        self.gateway = gateway if gateway is not None else Gateway(config)

    def build_app(self) -> web.Application:
        """The gateway's application."""
        return self.gateway.make_app()
