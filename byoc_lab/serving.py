"""Serving an aiohttp application on a socket, inside an event loop that already runs.

:class:`AppServer` is the one way byoc_lab's servers (worker, orchestrator, gateway)
listen: aiohttp's ``AppRunner``/``TCPSite``, so it works on the kernel's background
loop and in command-line processes alike. It binds 127.0.0.1 unless told otherwise;
port 0 picks a free port.
"""

from __future__ import annotations

import logging

from aiohttp import web

from byoc_lab.errors import RuntimeStateError

__all__ = ["DEFAULT_HOST", "AppServer"]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


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
