"""One live stream: input channel → decode → ``process()`` → encode → output channel.

:class:`StreamSession` is what ``/stream/start`` creates. It runs the media pipeline
(:mod:`.pipeline`) and the side channels (:mod:`.channels`): it reads parameter
updates from the control channel, writes events (heartbeat, status, errors,
``params_updated``, ``stream_stopped``) and processor data, and owns every task it
starts. Lifecycle::

    STARTING ──start()──▶ RUNNING ──input ended / stop() / failure──▶ STOPPING ─┬─▶ ENDED
        │                                                                    └─▶ FAILED
        └──start() raised (bad params)──▶ FAILED

In STOPPING the session cancels and awaits every task it created, publishes its
last events (pending errors, a final status, ``stream_stopped``) within
``final_timeout``, closes the channels it wrote (so readers see end of stream), then
calls ``on_end``. When the input ends, every frame still in flight is delivered
first: the pipeline drains, the encoder flushes and the last segment is completed.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from byoc_lab.errors import ContractError, ParamError, RuntimeStateError, TrickleError
from byoc_lab.runner import ProcessorRunner

from .channels import DataChannel, EventsChannel, delete_channel, read_control
from .reporting import StreamReporter
from .request import FrameShape, SessionConfig, StreamRequest, plan_params
from .stats import SessionStats

if TYPE_CHECKING:
    from .pipeline import MediaPipeline

__all__ = ["SessionConfig", "SessionState", "StreamRequest", "StreamSession"]

logger = logging.getLogger(__name__)


class SessionState(enum.Enum):
    """Where a :class:`StreamSession` is in its life (see the module docstring)."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    ENDED = "ENDED"
    FAILED = "FAILED"


class StreamSession:
    """One live stream, from ``/stream/start`` to its end.

    Args:
        request: the stream's channels and initial parameters.
        runner: returns the processor runner for the next frame (called per frame, so
            a hot-swapped processor takes over at a frame boundary).
        http: the client session for every trickle channel; the caller owns it.
        config: timings and limits.
        on_end: called once, on the loop, when a started session reaches ENDED or
            FAILED (not when :meth:`start` raises); it must not raise or block.

    Methods run on the event loop that runs the session. ``process()`` never runs on
    the loop for sync processors, and decoding and encoding have their own threads.
    """

    def __init__(
        self,
        request: StreamRequest,
        *,
        runner: Callable[[], ProcessorRunner],
        http: aiohttp.ClientSession,
        config: SessionConfig | None = None,
        on_end: Callable[[StreamSession], None] | None = None,
    ) -> None:
        self.request = request
        self.config = config if config is not None else SessionConfig()
        self.error: str | None = None
        self._state = SessionState.STARTING
        self._runner = runner
        self._http = http
        self._on_end = on_end
        self._stats = SessionStats()
        self._params: dict[str, Any] = {}
        self._shape = FrameShape()
        urls = {
            "subscribe": request.subscribe_url or "",
            "publish": request.publish_url or "",
            "control": request.control_url or "",
            "events": request.events_url or "",
            "data": request.data_url or "",
        }
        self.reporter = StreamReporter(
            stream_id=request.request_id,
            urls=urls,
            stats=self._stats,
            events=None,
            error_interval=self.config.error_interval,
            describe=lambda: (self._state.value, self._runner().name, dict(self._params)),
        )
        self._events: EventsChannel | None = None
        self._data: DataChannel | None = None
        self._pipeline: MediaPipeline | None = None
        self._media: dict[str, asyncio.Task[None]] = {}
        self._side: dict[str, asyncio.Task[None]] = {}
        self._main: asyncio.Task[None] | None = None
        self._stop_reason: str | None = None
        self._stopped = asyncio.Event()
        self._ended = asyncio.Event()
        self._updating = asyncio.Lock()  # one parameter update at a time

    # -- public API ----------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def request_id(self) -> str:
        """The stream id."""
        return self.request.request_id

    def stats(self) -> dict[str, Any]:
        """Counters, rates, latency and sizes as a JSON-able dict (see SessionStats)."""
        snapshot = self._stats.snapshot()
        snapshot.update(
            request_id=self.request_id,
            state=self._state.value,
            error=self.error,
            fps=self._stats.fps(),
            params=dict(self._params),
        )
        return snapshot

    async def start(self) -> None:
        """Apply the initial parameters and start every task; returns at once.

        Raises:
            RuntimeStateError: the session was already started or stopped.
            ParamError: the initial parameters are invalid (state becomes FAILED, no
                task was started and ``on_end`` is not called).
        """
        self._assert_state(SessionState.STARTING, action="start")
        if self._main is not None:
            raise RuntimeStateError(f"stream {self.request_id} is already starting")
        try:
            await self._apply_params(self.request.params)
        except ParamError as exc:
            self.error = f"invalid stream parameters: {exc}"
            self._state = SessionState.FAILED
            self._ended.set()
            raise
        self._assert_state(SessionState.STARTING, action="start")  # stop() came meanwhile
        self._build_channels()
        self._spawn_side()
        if self._pipeline is not None:
            for name, stage in self._pipeline.stages().items():
                self._media[name] = asyncio.create_task(stage(), name=f"{self} {name}")
        self._main = asyncio.create_task(self._run(), name=f"{self} supervisor")
        self._state = SessionState.RUNNING
        logger.info("stream %s started (%s)", self.request_id, self._runner().describe())

    async def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Apply parameters between two frames; emits ``params_updated``.

        ``width``/``height``/``max_framerate`` change the frames from the next decoded
        one; other keys go to the processor's ``update_params`` (all or nothing).

        Returns:
            The values that changed.

        Raises:
            RuntimeStateError: the session is not running.
            ParamError: a value is invalid; nothing is applied and an ``error`` event
                (``error_type: "params"``) is sent.
        """
        self._assert_state(SessionState.STARTING, SessionState.RUNNING, action="update params")
        try:
            changed = await self._apply_params(params)
        except ParamError as exc:
            self.reporter.report("params", f"parameter update rejected: {exc}")
            raise
        self.reporter.emit({"type": "params_updated", "params": dict(params), "changed": changed})
        logger.info("stream %s: parameters updated %s", self.request_id, changed)
        return changed

    async def stop(self, reason: str = "stopped") -> None:
        """End the stream now (no drain) and wait until it has ended; idempotent.

        Emits ``stream_stopped`` with ``reason``; every task is cancelled and awaited.
        """
        if self._main is None:
            if self._state is SessionState.STARTING:
                self._state = SessionState.ENDED
                self._ended.set()
            return
        if self._stop_reason is None and self._state is SessionState.RUNNING:
            self._stop_reason = reason
            for task in self._media.values():
                task.cancel()
            self._stopped.set()
        await self._ended.wait()

    async def wait_ended(self) -> None:
        """Wait until the session is ENDED or FAILED."""
        await self._ended.wait()

    async def __aenter__(self) -> StreamSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop("closed")

    # -- parameters ----------------------------------------------------------------------

    async def _apply_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate, then apply to the processor (between frames), then to the frame shape."""
        async with self._updating:
            shape, processor_params, checked = plan_params(self._shape, params)
            changed: dict[str, Any] = {}
            if processor_params:
                try:
                    changed = await self._runner().update_params(processor_params)
                except ContractError as exc:
                    raise ParamError(exc.message, fix=exc.fix) from exc
            changed |= self._shape.changes(shape)
            self._shape = shape
            if self._pipeline is not None:
                self._pipeline.shape = shape
            self._params.update(checked)
            return changed

    # -- running -------------------------------------------------------------------------

    def _build_channels(self) -> None:
        request, config = self.request, self.config
        if request.events_url:
            self._events = EventsChannel(
                self._http, request.events_url, retry=config.retry, stats=self._stats
            )
            self.reporter.events = self._events
        if request.data_url:
            self._data = DataChannel(
                self._http,
                request.data_url,
                retry=config.retry,
                stats=self._stats,
                report=self.reporter.report,
                interval=config.data_interval,
                keepalive=config.data_keepalive,
            )
        if request.subscribe_url:
            from .pipeline import MediaPipeline

            self._pipeline = MediaPipeline(
                http=self._http,
                subscribe_url=request.subscribe_url,
                publish_url=request.publish_url,
                runner=self._runner,
                shape=self._shape,
                encoder=config.encoder,
                retry=config.retry,
                input_timeout=config.input_timeout,
                stats=self._stats,
                report=self.reporter.report,
                emit=self.reporter.emit,
                data=self._data,
            )

    async def _run(self) -> None:
        """The supervisor: waits for the media tasks (or stop), then ends everything.

        :meth:`start` creates every task; this is the one place that cancels and
        awaits them.
        """
        failure: str | None = None
        try:
            if self._media:
                await asyncio.wait(self._media.values(), return_when=asyncio.FIRST_EXCEPTION)
            else:
                await self._stopped.wait()
            failure = self._failure()
        finally:
            await self._finish(failure)

    def _spawn_side(self) -> None:
        request, config = self.request, self.config
        if self._events is not None:
            self._side["events"] = asyncio.create_task(self._events.run(), name=f"{self} events")
            ticker = self.reporter.run_ticker(config.heartbeat_interval, config.status_interval)
            self._side["ticker"] = asyncio.create_task(ticker, name=f"{self} ticker")
        if self._data is not None:
            self._side["data"] = asyncio.create_task(self._data.run(), name=f"{self} data")
        if request.control_url:
            control = self._follow_control(request.control_url)
            self._side["control"] = asyncio.create_task(control, name=f"{self} control")
        for name, task in self._side.items():
            task.add_done_callback(functools.partial(self._side_ended, name))

    def _side_ended(self, name: str, task: asyncio.Task[None]) -> None:
        """A side channel never ends the stream; an unexpected error in one is reported."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("stream %s: %s task failed", self.request_id, name, exc_info=exc)
            self.reporter.report(name, f"the {name} task stopped: {type(exc).__name__}: {exc}")

    def _failure(self) -> str | None:
        if self._stop_reason is not None:
            return None
        for name, task in self._media.items():
            if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
                logger.error("stream %s: %s stage failed", self.request_id, name, exc_info=exc)
                return _describe_failure(name, exc, self.request)
        return None

    async def _finish(self, failure: str | None) -> None:
        """Cancel the media and control tasks, send the last data and events, close up.

        Everything after the cancellations shares one ``final_timeout`` deadline.
        """
        self._state = SessionState.STOPPING
        try:
            await _cancel(self._media.values())
            if self._pipeline is not None:
                self._pipeline.close()
            await _cancel(t for n, t in self._side.items() if n in ("control", "ticker"))
            deadline = asyncio.get_running_loop().time() + self.config.final_timeout
            await self._drain("data", deadline)
            self._final_events(failure)  # after data: its last errors come before them
            await self._drain("events", deadline)
            await _cancel(self._side.values())
            if self.config.close_channels:
                await self._close_channels(deadline)
        finally:
            self.error = failure
            self._state = SessionState.FAILED if failure else SessionState.ENDED
            self._ended.set()
            logger.info("stream %s %s: %s", self.request_id, self._state.name.lower(), self.error)
            if self._on_end is not None:
                try:
                    self._on_end(self)
                except Exception:  # a callback at the task top: log it, never propagate
                    logger.exception("stream %s: on_end callback failed", self.request_id)

    def _final_events(self, failure: str | None) -> None:
        """Pending errors, the failure, a final status, then ``stream_stopped`` (last)."""
        reporter = self.reporter
        if failure is not None:
            reporter.report("stream", failure)
        reporter.flush_errors(force=True)
        final = SessionState.FAILED if failure else SessionState.ENDED
        reporter.emit(reporter.status_event(final.value))
        reason = "error" if failure else (self._stop_reason or "end of input")
        reporter.emit({"type": "stream_stopped", "reason": reason, "error": failure})

    async def _drain(self, name: str, deadline: float) -> None:
        """Let the data or events task publish what it holds, until ``deadline``."""
        channel = self._data if name == "data" else self._events
        task = self._side.get(name)
        if channel is not None and task is not None:
            channel.finish()
            remaining = deadline - asyncio.get_running_loop().time()
            await asyncio.wait({task}, timeout=max(remaining, 0.001))

    async def _follow_control(self, url: str) -> None:
        """Control task: apply each message; a lost channel is reported, never fatal."""
        try:
            await read_control(
                self._http,
                url,
                retry=self.config.retry,
                on_message=self._apply_control,
                report=self.reporter.report,
            )
        except TrickleError as exc:
            self.reporter.report("control", f"control channel {url} is unavailable: {exc}")

    async def _apply_control(self, message: dict[str, Any]) -> None:
        try:
            await self.update_params(message)
        except (ParamError, RuntimeStateError) as exc:  # already reported as an event
            logger.debug("stream %s: control message not applied: %s", self.request_id, exc)

    async def _close_channels(self, deadline: float) -> None:
        urls = [self.request.publish_url, self.request.data_url, self.request.events_url]
        closing = [delete_channel(self._http, url, self.config.retry) for url in urls if url]
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.gather(*closing)
        except TimeoutError:
            logger.warning("stream %s: closing its channels timed out", self.request_id)

    def _assert_state(self, *allowed: SessionState, action: str) -> None:
        if self._state not in allowed:
            must = " or ".join(s.name for s in allowed)
            raise RuntimeStateError(
                f"cannot {action}: stream {self.request_id} is {self._state.name} (must be {must})"
            )

    def __repr__(self) -> str:
        return f"<StreamSession {self.request_id} {self._state.name}>"

    def __str__(self) -> str:
        return f"stream {self.request_id}"


def _describe_failure(stage: str, exc: BaseException, request: StreamRequest) -> str:
    if stage == "input":
        return f"cannot read the input channel {request.subscribe_url}: {exc}"
    if stage == "output":
        return f"cannot publish to the output channel {request.publish_url}: {exc}"
    return f"the {stage} stage stopped on an unexpected error: {type(exc).__name__}: {exc}"


async def _cancel(tasks: Any) -> None:
    """Cancel ``tasks`` and wait for all of them to finish."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
