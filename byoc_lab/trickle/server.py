"""The trickle channel server: go-livepeer's ``/ai/trickle/`` routes on aiohttp.

:class:`TrickleServer` holds channels in memory and serves them over HTTP, either as a
standalone :class:`aiohttp.web.Application` (:meth:`TrickleServer.make_app`, base ``/``,
like http-trickle) or as routes added to someone else's application under a base path
(:meth:`TrickleServer.setup`, e.g. ``/ai/trickle/`` in an orchestrator). The request
handlers live in :mod:`byoc_lab.trickle.handlers`; this module owns the channel
registry, the idle sweep and every background task.

Memory is bounded by ``max_channels * window * max_segment_bytes`` plus the segments
slow readers still hold; each subscriber connection is flow-controlled by TCP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from byoc_lab.errors import ChannelLimitError, ParamError, RuntimeStateError

from .channel import Channel, ChannelInfo
from .handlers import add_routes
from .segment import Segment
from .wire import (
    CONTENT_TYPE_DEFAULT,
    IDLE_TIMEOUT_S,
    SWEEP_INTERVAL_S,
    WINDOW_SEGMENTS,
    check_channel_name,
)

if TYPE_CHECKING:
    from .faults import FaultPlan

__all__ = ["CLOSED_DRAIN_S", "TRICKLE_SERVER_KEY", "TrickleServer", "TrickleServerConfig"]

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class TrickleServerConfig:
    """Limits and behaviour of a :class:`TrickleServer`; defaults are go-livepeer's.

    Attributes:
        window: segments kept per channel; older ones answer 470.
        max_segment_bytes: a longer segment is cut there and its POST answers 413.
        max_channels: open channels at most; more answer 503 (or raise
            :class:`~byoc_lab.errors.ChannelLimitError` from :meth:`TrickleServer.create_channel`).
        idle_timeout: seconds without a new segment after which a channel is closed.
        sweep_interval: seconds between idle sweeps.
        autocreate: whether HTTP clients may create channels (``POST {channel}``, or the
            first ``POST {channel}/{seq}``). Off in go-livepeer orchestrators, which
            create channels in-process; on in the standalone http-trickle server.
        closed_linger: seconds a closed channel keeps answering GETs with
            ``200 + Lp-Trickle-Closed`` (clean end of stream) instead of 404; during
            the first :data:`CLOSED_DRAIN_S` of them, its finished segments still in
            the window are served as before.

    Raises:
        ParamError: a limit is zero or negative.
    """

    window: int = WINDOW_SEGMENTS
    max_segment_bytes: int = 64 * _MIB
    max_channels: int = 1024
    idle_timeout: float = IDLE_TIMEOUT_S
    sweep_interval: float = SWEEP_INTERVAL_S
    autocreate: bool = False
    closed_linger: float = 60.0

    def __post_init__(self) -> None:
        for field in ("window", "max_segment_bytes", "max_channels"):
            if getattr(self, field) < 1:
                raise ParamError(f"TrickleServerConfig.{field} must be at least 1")
        for field in ("idle_timeout", "sweep_interval", "closed_linger"):
            if getattr(self, field) <= 0:
                raise ParamError(f"TrickleServerConfig.{field} must be a positive number")


CLOSED_DRAIN_S = 10.0
"""Seconds the finished segments of a closed channel stay readable, so a reader a little
behind (its next GET not yet sent when the publisher closed the channel right after
its last segments) still gets them before the end of stream."""


@dataclass(frozen=True)
class Tombstone:
    """What remains of a closed channel while it lingers: when and where it stopped.

    For :data:`CLOSED_DRAIN_S` seconds it also keeps the closed channel, whose
    finished segments still in the window are served as before (:meth:`segment`).
    """

    closed_at: float
    next_seq: int
    channel: Channel | None = None

    def segment(self, seq: int) -> Segment | None:
        """Finished segment ``seq`` of the closed channel, if still kept and not empty."""
        if self.channel is None or seq < 0:
            return None
        segment = self.channel.segment_at(seq)
        return segment if segment is not None and segment.size > 0 else None


class TrickleServer:
    """In-memory trickle channels, served by the routes it adds to an aiohttp app.

    Create channels with :meth:`create_channel` (or let clients create them when
    ``autocreate`` is on), publish and subscribe over HTTP, close them with
    :meth:`close_channel` or ``DELETE {channel}``. All methods must be called on the
    event loop the application runs on.

    The server owns one background task (the idle sweep) plus one per POST being
    received; all are cancelled and awaited when the application cleans up, after every
    channel has been closed at shutdown so that waiting requests end promptly.

    Args:
        config: limits and behaviour; ``TrickleServerConfig()`` when omitted.
        faults: a :class:`~byoc_lab.trickle.faults.FaultPlan` that every segment
            transfer goes through (tests only; None, the default, costs nothing). The
            :attr:`faults` attribute can also be set while the server runs.
    """

    def __init__(
        self, config: TrickleServerConfig | None = None, *, faults: FaultPlan | None = None
    ) -> None:
        self._config = config if config is not None else TrickleServerConfig()
        self.faults = faults
        self._channels: dict[str, Channel] = {}
        self._tombstones: dict[str, Tombstone] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attached = False

    @property
    def config(self) -> TrickleServerConfig:
        """The configuration the server was built with."""
        return self._config

    # -- hosting ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """A standalone application serving the channels at base path ``/``."""
        app = web.Application()
        self.setup(app)
        return app

    def setup(self, app: web.Application, *, base_path: str = "/") -> None:
        """Add the trickle routes under ``base_path`` and this server's lifecycle to ``app``.

        Call before the application starts; the server can be attached to one app only.
        ``app[TRICKLE_SERVER_KEY]`` then returns this server.

        Raises:
            RuntimeStateError: the server is already attached to an application.
        """
        if self._attached:
            raise RuntimeStateError(
                "this TrickleServer is already attached to an aiohttp application",
                fix="create one TrickleServer per application",
            )
        self._attached = True
        add_routes(app, self, base_path)
        app[TRICKLE_SERVER_KEY] = self
        app.on_shutdown.append(self._on_shutdown)
        app.cleanup_ctx.append(self._lifecycle)

    # -- channels (Python API for the orchestrator) -------------------------------------

    def create_channel(self, name: str, mime: str = CONTENT_TYPE_DEFAULT) -> ChannelInfo:
        """Open channel ``name`` serving ``mime``; an already open channel is kept as is.

        Raises:
            ChannelNameError: ``name`` is not a valid channel name.
            ChannelLimitError: ``max_channels`` channels are already open.
        """
        channel = self._channels.get(check_channel_name(name))
        if channel is None:
            channel = self._open(name, mime)
        return channel.info()

    def close_channel(self, name: str) -> bool:
        """Close channel ``name``: its subscribers and preconnected publishers end cleanly.

        Returns:
            True if the channel was open, False if there was no such channel.
        """
        channel = self._channels.pop(name, None)
        if channel is None:
            return False
        channel.close()
        tomb = Tombstone(time.monotonic(), channel.next_write, channel)
        self._tombstones[name] = tomb
        try:
            asyncio.get_running_loop().call_later(CLOSED_DRAIN_S, self._drained, name, tomb)
        except RuntimeError:  # no loop (a plain call from a test): nothing left to drain
            self._drained(name, tomb)
        logger.info("trickle channel %s closed at seq %d", name, channel.next_write)
        return True

    def _drained(self, name: str, tomb: Tombstone) -> None:
        """Forget the segments of a closed channel (its tombstone stays until it expires)."""
        if self._tombstones.get(name) is tomb:
            self._tombstones[name] = Tombstone(tomb.closed_at, tomb.next_seq)

    def channels(self) -> list[ChannelInfo]:
        """Snapshots of the open channels, sorted by name."""
        return [self._channels[name].info() for name in sorted(self._channels)]

    def sweep_idle(self) -> list[str]:
        """Close channels idle longer than ``idle_timeout``; forget old closed ones.

        Runs every ``sweep_interval`` while the application is up. Returns the names of
        the channels it closed.
        """
        now = time.monotonic()
        idle = [
            name
            for name, channel in self._channels.items()
            if now - channel.last_write > self._config.idle_timeout
        ]
        for name in idle:
            logger.info("trickle channel %s idle for over %.0f s", name, self._config.idle_timeout)
            self.close_channel(name)
        expired = [
            name
            for name, tomb in self._tombstones.items()
            if now - tomb.closed_at > self._config.closed_linger
        ]
        for name in expired:
            del self._tombstones[name]
        return idle

    def close_all(self) -> None:
        """Close every open channel (shutdown)."""
        for name in list(self._channels):
            self.close_channel(name)

    # -- used by the handlers -----------------------------------------------------------

    def channel(self, name: str) -> Channel | None:
        """The open channel ``name`` (already validated), or None."""
        return self._channels.get(name)

    def tombstone(self, name: str) -> Tombstone | None:
        """The lingering remains of closed channel ``name``, or None."""
        return self._tombstones.get(name)

    def open_for_client(self, name: str, mime: str) -> Channel | None:
        """The channel a client request may use, created if ``autocreate`` allows.

        Raises:
            ChannelLimitError: it would be created but ``max_channels`` are open.
        """
        channel = self._channels.get(name)
        if channel is None and self._config.autocreate:
            channel = self._open(name, mime)
        return channel

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task this server tracks, cancels and awaits at cleanup."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- lifecycle ----------------------------------------------------------------------

    def _open(self, name: str, mime: str) -> Channel:
        if len(self._channels) >= self._config.max_channels:
            raise ChannelLimitError(
                f"cannot open trickle channel {name!r}: the server already hosts "
                f"{self._config.max_channels} channels",
                fix="close unused channels or raise TrickleServerConfig.max_channels",
            )
        channel = Channel(name, mime or CONTENT_TYPE_DEFAULT, self._config.window)
        self._channels[name] = channel
        self._tombstones.pop(name, None)
        logger.info("trickle channel %s opened (%s)", name, channel.mime)
        return channel

    async def _on_shutdown(self, app: web.Application) -> None:
        # Before aiohttp waits for in-flight requests: closing every channel wakes the
        # GETs waiting for data and the POSTs waiting for their first byte.
        self.close_all()

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        self.spawn(self._sweep_forever(), name="trickle-idle-sweep")
        yield
        self.close_all()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._config.sweep_interval)
            try:
                self.sweep_idle()
            except Exception:  # task top: keep sweeping, but never silently
                logger.exception("trickle idle sweep failed")


TRICKLE_SERVER_KEY = web.AppKey("byoc_lab.trickle.server", TrickleServer)
"""``app[TRICKLE_SERVER_KEY]`` is the :class:`TrickleServer` attached to ``app``."""
