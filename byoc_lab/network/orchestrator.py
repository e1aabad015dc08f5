"""An offchain BYOC orchestrator in pure Python, speaking go-livepeer's wire format.

==========================================  =============================================
``POST /capability/register``               a worker registers (raw secret in
                                            ``Authorization``; JSON ``ExternalCapability``)
``POST /capability/unregister``             body: the capability name
``GET /process/token``                      a gateway asks for a ``JobToken`` (price 0)
``POST /process/request/{path}``            a batch job, proxied to ``{worker}/{path}``
``POST /ai/stream/start|update|stop``       live streams (trickle channels + worker calls)
``POST /ai/stream/payment``                 200 with ``Livepeer-Balance: 0`` (offchain)
``GET|POST|DELETE /ai/trickle/…``           the stream channels (:class:`TrickleServer`)
==========================================  =============================================

Routes and behaviour follow go-livepeer's ``byoc/job_orchestrator.go`` and
``byoc/stream_orchestrator.go`` (wire doc §1); the handlers live in
:mod:`~byoc_lab.network.orchestrator_jobs` and :mod:`~byoc_lab.network.orchestrator_streams`.
Where byoc_lab deliberately differs, the handler modules say so in their docstrings.
What it does not do: payments (offchain, every price is 0, every balance 0), TLS
(it serves plain HTTP; put it behind a proxy for TLS), Live Runner.

Each step of each job goes to the routing log (:attr:`Orchestrator.routing`) in plain
sentences: capability registered → job received → forwarded to worker → response
returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from byoc_lab.errors import ParamError, RuntimeStateError
from byoc_lab.network.hosting import MAX_BODY_KEY, AppServer, error_middleware
from byoc_lab.network.orchestrator_jobs import JobHandlers
from byoc_lab.network.orchestrator_registry import Capability, CapabilityInfo, CapabilityRegistry
from byoc_lab.network.orchestrator_secret import generate_secret, write_secret_file
from byoc_lab.network.orchestrator_streams import StreamInfo, StreamManager
from byoc_lab.network.routing_log import RoutingLog
from byoc_lab.network.wire import TRICKLE_BASE_PATH
from byoc_lab.trickle import TrickleServer, TrickleServerConfig

__all__ = ["ORCHESTRATOR_KEY", "Orchestrator", "OrchestratorConfig", "OrchestratorServer"]

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class OrchestratorConfig:
    """How an :class:`Orchestrator` runs.

    Attributes:
        secret: what workers must send to register (go-livepeer's ``-orchSecret``).
            None generates a random one and writes it to a 0600 file in
            ``secret_dir`` (see :attr:`Orchestrator.secret_file`); never logged.
        secret_dir: where a generated secret is written (default
            ``~/.local/share/byoc_lab/runtime``).
        capabilities: static registrations, present from the start (the CLI's
            ``--capability name=url``).
        service_url: the public base URL (go-livepeer's ``-serviceAddr``): the
            ``service_addr`` of tokens and the base of trickle URLs. None: the URL the
            server listens on, or else the Host a request came to.
        trickle_host_for_runner: ``host:port`` replacing the one in trickle URLs given
            to workers and gateways (``-liveAITrickleHostForRunner``), e.g. for a worker
            in a container.
        max_body_bytes: largest request body accepted (413 beyond); also bounds worker
            answers to batch jobs.
        monitor_interval: seconds between stream checks (control channel still open,
            worker still reachable).
        keepalive_interval: seconds between ``{"keep":"alive"}`` on each control channel;
            None sends none (when a gateway publishes its own).
        trickle: the trickle server's limits (go-livepeer's defaults when omitted).
        routing_log_size: routing-log lines kept in memory.

    Raises:
        ParamError: an empty secret, or a limit that is not positive.
    """

    secret: str | None = field(default=None, repr=False)
    secret_dir: Path | None = None
    capabilities: tuple[Capability, ...] = ()
    service_url: str | None = None
    trickle_host_for_runner: str | None = None
    max_body_bytes: int = 64 * _MIB
    monitor_interval: float = 5.0
    keepalive_interval: float | None = 10.0
    trickle: TrickleServerConfig = field(default_factory=TrickleServerConfig)
    routing_log_size: int = 200

    def __post_init__(self) -> None:
        if self.secret is not None and not self.secret:
            raise ParamError(
                "the orchestrator secret is empty; registrations would be open to anyone",
                fix="give a secret, or None to have one generated",
            )
        if self.max_body_bytes < 1 or self.routing_log_size < 1:
            raise ParamError("max_body_bytes and routing_log_size must be at least 1")
        if self.monitor_interval <= 0 or (
            self.keepalive_interval is not None and self.keepalive_interval <= 0
        ):
            raise ParamError("monitor_interval and keepalive_interval must be positive")
        if self.service_url is not None:
            object.__setattr__(self, "service_url", self.service_url.rstrip("/"))


class Orchestrator:
    """An offchain BYOC orchestrator: capability registry, job proxy, stream manager.

    Build its application with :meth:`make_app`, or add its routes to an existing one
    with :meth:`setup`; serve it with :class:`OrchestratorServer`. The application's
    cleanup owns the HTTP client session, the stream monitor task and the trickle
    server's tasks, and cancels and awaits them all. Methods run on the loop that
    serves the application.

    Args:
        config: how it runs; ``OrchestratorConfig()`` when omitted.
    """

    def __init__(self, config: OrchestratorConfig | None = None) -> None:
        self.config = config if config is not None else OrchestratorConfig()
        self.registry = CapabilityRegistry()
        self.routing = RoutingLog(logger, self.config.routing_log_size)
        self.trickle = TrickleServer(self.config.trickle)
        self._secret = self.config.secret if self.config.secret else generate_secret()
        self._secret_file: Path | None = None
        self._service_url = self.config.service_url
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attached = False
        self.jobs = JobHandlers(self)
        self.stream_manager = StreamManager(self)
        for capability in self.config.capabilities:
            self.register(capability, source="static")

    # -- Python API -----------------------------------------------------------------

    @property
    def secret(self) -> str:
        """The registration secret (given or generated); keep it out of logs."""
        return self._secret

    @property
    def secret_file(self) -> Path | None:
        """The 0600 file holding a generated secret while the app runs (else None)."""
        return self._secret_file

    @property
    def service_url(self) -> str | None:
        """The public base URL, once known (config, or the listening address)."""
        return self._service_url

    @service_url.setter
    def service_url(self, url: str) -> None:
        self._service_url = url.rstrip("/")

    def register(self, capability: Capability, *, source: str = "api") -> None:
        """Register (or re-register, replacing) ``capability``."""
        replaced = self.registry.register(capability)
        verb = "re-registered" if replaced else "registered"
        self.routing.add("capability %s (%s): %s", verb, source, capability.describe())

    def unregister(self, name: str) -> bool:
        """Remove capability ``name``; True if it was registered."""
        removed = self.registry.unregister(name)
        if removed:
            self.routing.add("capability unregistered: %s", name)
        return removed

    def capabilities(self) -> list[CapabilityInfo]:
        """Every registered capability with its load, sorted by name."""
        return self.registry.infos()

    def streams(self) -> list[StreamInfo]:
        """Every stream running through this orchestrator."""
        return self.stream_manager.infos()

    # -- hosting ----------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """A new application serving this orchestrator (and its trickle channels)."""
        app = web.Application(client_max_size=self.config.max_body_bytes)
        self.setup(app)
        return app

    def setup(self, app: web.Application) -> None:
        """Add the routes, the trickle server and the lifecycle to ``app``.

        Call once, before the application starts. It also installs
        :func:`~byoc_lab.network.hosting.error_middleware` (rejections answer as
        go-livepeer's ``text/plain`` errors). Body limits are the application's
        (``client_max_size``); :meth:`make_app` sets them from the config.

        Raises:
            RuntimeStateError: already attached to an application.
        """
        if self._attached:
            raise RuntimeStateError(
                "this Orchestrator is already attached to an aiohttp application",
                fix="create one Orchestrator per application",
            )
        self._attached = True
        if error_middleware not in app.middlewares:
            app.middlewares.append(error_middleware)
        app[ORCHESTRATOR_KEY] = self
        app[MAX_BODY_KEY] = self.config.max_body_bytes
        self.jobs.add_routes(app)
        self.stream_manager.add_routes(app)
        self.trickle.setup(app, base_path=TRICKLE_BASE_PATH)
        app.cleanup_ctx.append(self._lifecycle)

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client session for worker calls (exists while the application runs).

        Raises:
            RuntimeStateError: the application is not running.
        """
        if self._http is None:
            raise RuntimeStateError("the orchestrator is not running", fix="start it first")
        return self._http

    def base_url(self, request: web.Request) -> str:
        """The public base URL: the configured or listening one, else the request's."""
        if self._service_url is not None:
            return self._service_url
        return f"{request.scheme}://{request.host}"

    def trickle_url(self, request: web.Request, channel: str) -> str:
        """The URL of trickle channel ``channel`` as workers and gateways reach it."""
        url = URL(self.base_url(request) + TRICKLE_BASE_PATH + channel)
        override = self.config.trickle_host_for_runner
        if override:
            host, _, port = override.rpartition(":")
            url = url.with_host(host or override).with_port(int(port) if host else None)
        return str(url)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the application cancels and awaits at cleanup."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        if self.config.secret is None:
            self._secret_file = write_secret_file(self._secret, self.config.secret_dir)
            logger.info(
                "orchestrator secret generated and written to %s (workers register with it)",
                self._secret_file,
            )
        self._http = aiohttp.ClientSession()
        self.spawn(self.stream_manager.monitor_forever(), name="byoc_lab-orchestrator-monitor")
        try:
            yield
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stream_manager.close_all("the orchestrator is shutting down")
            await self._http.close()
            self._http = None
            if self._secret_file is not None:
                self._secret_file.unlink(missing_ok=True)
                self._secret_file = None


ORCHESTRATOR_KEY = web.AppKey("byoc_lab.network.orchestrator", Orchestrator)
"""``app[ORCHESTRATOR_KEY]`` is the :class:`Orchestrator` attached to ``app``."""


class OrchestratorServer(AppServer):
    """An :class:`Orchestrator` listening on ``host:port`` (``start()``/``stop()``).

    ``await OrchestratorServer(OrchestratorConfig(secret=s)).start(port=8936)`` returns
    the base URL; the orchestrator's ``service_url`` becomes that URL unless the config
    names one.

    Args:
        config: the orchestrator's configuration (or pass ``orchestrator=``).
        orchestrator: an existing :class:`Orchestrator` to serve.
    """

    kind = "orchestrator"

    def __init__(
        self,
        config: OrchestratorConfig | None = None,
        *,
        orchestrator: Orchestrator | None = None,
    ) -> None:
        super().__init__()
        self.orchestrator = orchestrator if orchestrator is not None else Orchestrator(config)

    def build_app(self) -> web.Application:
        """The orchestrator's application."""
        return self.orchestrator.make_app()

    def on_listening(self, url: str) -> None:
        """Adopt the listening URL as the service URL unless one was configured."""
        if self.orchestrator.config.service_url is None:
            self.orchestrator.service_url = url
