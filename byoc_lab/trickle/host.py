"""A standalone trickle server on a port, that a test can crash and bring back.

:class:`TrickleHost` serves a :class:`~byoc_lab.trickle.TrickleServer` on
``127.0.0.1`` (an :class:`~byoc_lab.serving.AppServer`, so it runs on any loop that is
already running: the kernel's background loop, a test's loop). Each start serves a
fresh server without channels, and :meth:`TrickleHost.restart` reproduces a crash and
restart on the same port for fault tests (see :mod:`byoc_lab.trickle.faults`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from byoc_lab.errors import RuntimeStateError
from byoc_lab.serving import DEFAULT_HOST, AppServer

from .faults import FaultPlan
from .server import TrickleServer, TrickleServerConfig

__all__ = ["TrickleHost"]


class TrickleHost(AppServer):
    """A standalone trickle server on ``host:port`` that can crash and come back.

    ``await TrickleHost(faults=plan).start()`` serves a fresh :class:`TrickleServer`
    (autocreate on, as http-trickle's standalone server) and returns its base URL;
    :attr:`server` is the one serving now.

    Args:
        config: the server's limits (``TrickleServerConfig(autocreate=True)`` if omitted).
        faults: the fault plan every incarnation of the server consults.
    """

    kind = "trickle server"

    def __init__(
        self, config: TrickleServerConfig | None = None, *, faults: FaultPlan | None = None
    ) -> None:
        super().__init__()
        self.config = config if config is not None else TrickleServerConfig(autocreate=True)
        self.faults = faults
        self.restarts = 0
        self._server: TrickleServer | None = None

    @property
    def server(self) -> TrickleServer:
        """The server of the current incarnation (channels live here)."""
        if self._server is None:
            raise RuntimeStateError("the trickle host has not started yet", fix="start() it")
        return self._server

    def build_app(self) -> web.Application:
        """A fresh server (no channels) for each start."""
        self._server = TrickleServer(self.config, faults=self.faults)
        return self._server.make_app()

    async def restart(self, *, down_for: float = 0.0) -> None:
        """Crash and come back on the same port, without any channel.

        The port stops listening, every open connection is reset (readers and
        publishers see a connection error, not an end of stream), the old server's
        channels are dropped, and after ``down_for`` seconds a new server listens.
        """
        runner = self._runner
        if runner is None:
            raise RuntimeStateError("the trickle host is not running", fix="start() it first")
        host, port = self.host, self.port
        for site in list(runner.sites):
            await site.stop()  # no new connections from here on
        if runner.server is not None:
            for connection in runner.server.connections:
                if connection.transport is not None:
                    connection.transport.abort()
        await self.stop()
        if down_for > 0:
            await asyncio.sleep(down_for)
        await self.start(host if host else DEFAULT_HOST, port)
        self.restarts += 1
