"""``StreamHandle``: one live stream started through a gateway, from a notebook cell.

The handle publishes input frames to the stream's input trickle channel, reads the
output channel and decodes it frame by frame, follows the gateway's data SSE and the
events channel, updates parameters and stops the stream. All of it runs as tasks on
byoc_lab's background loop, owned by the handle: :meth:`StreamHandle.stop` cancels
and awaits every one. Sync methods submit to that loop and wait; each has an async
twin (``a``-prefixed).

Consumers read through bounded feeds (:mod:`byoc_lab.client.feeds`): output frames
(``max_queued_frames``, 30 by default), data lines (1024) and events (256). A consumer
that does not keep up loses the **oldest** items, counted in :meth:`StreamHandle.stats`;
nothing grows without bound.

Against a real go-livepeer gateway the start answer has no ``trickle_*`` URLs (input
goes over WHIP or RTMP through MediaMTX), so :meth:`~StreamHandle.publish`,
:meth:`~StreamHandle.send` and :meth:`~StreamHandle.frames` raise
:class:`~byoc_lab.errors.NotAvailableError` saying what to use instead, and
:meth:`~StreamHandle.events` does too (go-livepeer keeps that channel to itself);
:meth:`~StreamHandle.update_params`, :meth:`~StreamHandle.status`,
:meth:`~StreamHandle.data` and :meth:`~StreamHandle.stop` work against both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from byoc_lab.client.calls import JobResult
from byoc_lab.client.feeds import FRAME_QUEUE, Feed
from byoc_lab.client.stream_core import STOP_TIMEOUT_S, StreamCore
from byoc_lab.errors import NotAvailableError, ParamError, RequestError
from byoc_lab.frames import RGBImage
from byoc_lab.network.wire import check_stream_id
from byoc_lab.sources import FrameSource

if TYPE_CHECKING:
    from byoc_lab.client.gateway_client import GatewayClient

__all__ = ["StreamHandle"]

T = TypeVar("T")

_QUICK_S: Final = 60.0
"""Sync wait for calls that only start things on the loop (the first one imports PyAV)."""
_ITEM_MARGIN_S: Final = 5.0
"""Added by sync methods to the call's own bound, so its typed timeout fires first."""

_NO_TRICKLE: Final = (
    "A go-livepeer gateway takes a stream's input over WHIP or RTMP and gives its output "
    "over WHEP or RTMP (through MediaMTX), and returns no trickle URLs."
)


class StreamHandle:
    """A live stream started through a gateway (see :meth:`GatewayClient.start_stream`).

    Attributes:
        stream_id: the gateway's stream id.
        capability: the capability the stream runs on.

    Use it as a context manager (sync or async), or call :meth:`stop`.

    Raises:
        ParamError: ``urls`` has no usable ``stream_id``, or the queue size is not >= 1.
    """

    def __init__(
        self,
        client: GatewayClient,
        urls: Mapping[str, str],
        *,
        capability: str,
        max_queued_frames: int = FRAME_QUEUE,
    ) -> None:
        stream_id = urls.get("stream_id")
        try:
            self.stream_id = check_stream_id(stream_id if isinstance(stream_id, str) else "")
        except RequestError as exc:
            raise ParamError(exc.message, expected=exc.expected, got=exc.got) from exc
        if isinstance(max_queued_frames, bool) or not isinstance(max_queued_frames, int):
            raise ParamError(
                "max_queued_frames must be a whole number", got=repr(max_queued_frames)
            )
        if max_queued_frames < 1:
            raise ParamError("max_queued_frames must be at least 1", got=str(max_queued_frames))
        self.capability = capability
        self._client = client
        self._urls = {str(k): v for k, v in urls.items() if isinstance(v, str)}
        self._core = StreamCore(
            client,
            self._urls,
            stream_id=self.stream_id,
            capability=capability,
            max_frames=max_queued_frames,
        )

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` ran (or the client closed)."""
        return self._core.stopped

    @property
    def urls(self) -> dict[str, str]:
        """The gateway's start answer (``StreamUrls``, plus ``trickle_*`` on byoc_lab's).

        Calls go to the client's gateway URL, not to the gateway URLs in here
        (go-livepeer builds those from ``-gatewayHost``, which need not be reachable).
        """
        return dict(self._urls)

    # -- input ---------------------------------------------------------------------------

    def publish(
        self,
        source: FrameSource | Iterable[Any],
        *,
        fps: float | None = None,
        realtime: bool = True,
        end_input: bool = True,
    ) -> StreamHandle:
        """Start publishing ``source`` in the background and return at once.

        Each frame is encoded (H.264, 1 s GOP) and its bytes go into the current input
        segment as soon as they exist; each keyframe opens a new segment. The source is
        iterated on a codec thread, so a camera or file may block; the caller keeps
        owning it (and closes it).

        Args:
            source: a :class:`~byoc_lab.sources.FrameSource`, or any iterable of RGB
                ``uint8`` ``HxWx3`` arrays (or :class:`~byoc_lab.frames.Frame`).
            fps: frame rate for timestamps and pacing (default: the source's ``fps``,
                else 30).
            realtime: send at ``fps`` (as a live source would); False: as fast as frames
                are encoded.
            end_input: when the source is exhausted, end the stream's input (the worker
                then finishes its output, so :meth:`frames` ends after the last frame).

        Raises:
            NotAvailableError: the gateway gave no ``trickle_publish_url`` (go-livepeer).
            RuntimeStateError: the stream is stopped, its input ended, or a publish runs.
            ParamError: ``fps`` is not positive.
        """
        self._require("trickle_publish_url", "publish frames")
        self._client._run(self._core.start_publish(source, fps, realtime, end_input), _QUICK_S)
        return self

    async def apublish(
        self,
        source: FrameSource | Iterable[Any],
        *,
        fps: float | None = None,
        realtime: bool = True,
        end_input: bool = True,
    ) -> StreamHandle:
        """Async twin of :meth:`publish` (returns once publishing has started)."""
        self._require("trickle_publish_url", "publish frames")
        await self._client._arun(self._core.start_publish(source, fps, realtime, end_input))
        return self

    def wait_published(self, timeout: float | None = None) -> int:
        """Wait until the running :meth:`publish` ends; return the frames sent so far.

        Raises:
            RuntimeStateError: nothing was published.
            JobTimeoutError: still publishing after ``timeout`` seconds (it goes on).
            Exception: what stopped the publishing (the source's error, a trickle or
                encoder error).
        """
        wait = None if timeout is None else timeout + _ITEM_MARGIN_S
        return self._client._run(self._core.wait_published(timeout), wait)

    async def await_published(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 (the same signature as the sync twin)
    ) -> int:
        """Async twin of :meth:`wait_published`."""
        return await self._client._arun(self._core.wait_published(timeout))

    def send(self, frame: Any) -> None:
        """Encode one RGB frame and send it into the input channel now (no pacing).

        Raises:
            NotAvailableError: no ``trickle_publish_url`` (go-livepeer's gateway).
            RuntimeStateError: stopped, input ended, or a :meth:`publish` is running.
            FrameError, EncodeError: the frame is not RGB uint8 ``HxWx3`` with even sides.
            TrickleError: the input channel refused it.
        """
        self._require("trickle_publish_url", "send frames")
        self._client._run(self._core.send(frame), _QUICK_S)

    async def asend(self, frame: Any) -> None:
        """Async twin of :meth:`send`."""
        self._require("trickle_publish_url", "send frames")
        await self._client._arun(self._core.send(frame))

    def end_input(self) -> None:
        """End the stream's input: the worker finishes its output and ends the stream.

        Raises:
            RuntimeStateError: a :meth:`publish` is running (it ends the input itself).
            TrickleError: the input channel could not be closed.
        """
        self._require("trickle_publish_url", "end the input")
        self._client._run(self._core.end_input(), _QUICK_S)

    async def aend_input(self) -> None:
        """Async twin of :meth:`end_input`."""
        self._require("trickle_publish_url", "end the input")
        await self._client._arun(self._core.end_input())

    # -- output ---------------------------------------------------------------------------

    def frames(self, timeout: float | None = 10.0) -> Iterator[RGBImage]:
        """Iterate output frames (RGB ``uint8`` ``HxWx3`` arrays) as they arrive.

        Frames come from a queue of ``max_queued_frames`` filled since the stream
        started (oldest dropped when full, see :meth:`stats`). Iteration ends when the
        stream's output ends, or, once this handle has ended the input, after
        ``timeout`` seconds without a frame (some workers, pytrickle 0.1.6 among them,
        never close their output when the input ends).

        Args:
            timeout: seconds to wait for each next frame; None waits until the end.

        Raises:
            NotAvailableError: no ``trickle_subscribe_url`` (go-livepeer's gateway).
            JobTimeoutError: no frame within ``timeout`` seconds while input may come.
            TrickleError: the output channel failed (after the frames already read).
        """
        self._require("trickle_subscribe_url", "read output frames")
        return self._iterate(self._core.frames_feed, timeout, after_input=True)

    def aframes(self, timeout: float | None = 10.0) -> AsyncIterator[RGBImage]:
        """Async twin of :meth:`frames`: ``async for frame in stream.aframes(): ...``."""
        self._require("trickle_subscribe_url", "read output frames")
        return self._aiterate(self._core.frames_feed, timeout, after_input=True)

    def data(self, timeout: float | None = 10.0) -> Iterator[str]:
        """Iterate the stream's data lines (the gateway's ``/data`` SSE), as they arrive.

        Each item is one line the processor emitted (``send_data``: JSON text). The
        reader runs from the stream's start; iteration ends when the stream ends.

        Raises:
            NotAvailableError: the stream was started with ``enable_data=False``.
            JobTimeoutError: no line within ``timeout`` seconds (None: no limit).
            JobError: the gateway refused the data stream (404: unknown stream).
        """
        self._require_data()
        return self._iterate(self._core.data_feed, timeout)

    def adata(self, timeout: float | None = 10.0) -> AsyncIterator[str]:
        """Async twin of :meth:`data`."""
        self._require_data()
        return self._aiterate(self._core.data_feed, timeout)

    def events(self, timeout: float | None = 10.0) -> Iterator[dict[str, Any]]:
        """Iterate the worker's events (heartbeats, status, errors) from the events channel.

        Starts at the channel's oldest segment still held (the server keeps five).
        Each item is the event object (pytrickle's ``event`` wrapper removed).

        Raises:
            NotAvailableError: no ``trickle_events_url`` (go-livepeer's gateway: use
                :meth:`status`, which carries the worker's status events).
            JobTimeoutError: no event within ``timeout`` seconds.
        """
        self._require("trickle_events_url", "read the stream's events")
        return self._iterate(self._core.events_feed, timeout)

    def aevents(self, timeout: float | None = 10.0) -> AsyncIterator[dict[str, Any]]:
        """Async twin of :meth:`events`."""
        self._require("trickle_events_url", "read the stream's events")
        return self._aiterate(self._core.events_feed, timeout)

    # -- control ---------------------------------------------------------------------------

    def update_params(self, params: Mapping[str, Any]) -> JobResult:
        """Send new parameters to the worker: ``POST /process/stream/{id}/update``.

        The header names the capability and ``{"stream_id": id}`` as go-livepeer needs.

        Raises:
            JobError: the gateway or worker refused (e.g. 400 for an unknown param).
            RuntimeStateError: the stream is stopped.
        """
        return self._client._run(
            self._core.update(params), self._core.call_timeout() + _ITEM_MARGIN_S
        )

    async def aupdate_params(self, params: Mapping[str, Any]) -> JobResult:
        """Async twin of :meth:`update_params`."""
        return await self._client._arun(self._core.update(params))

    def status(self) -> dict[str, Any]:
        """The gateway's status JSON for the stream (orchestrator, worker status, error).

        Raises:
            JobError: 404 once the gateway forgot the stream.
        """
        return self._client._run(self._core.status(), self._core.call_timeout() + _ITEM_MARGIN_S)

    async def astatus(self) -> dict[str, Any]:
        """Async twin of :meth:`status`."""
        return await self._client._arun(self._core.status())

    def stop(self) -> None:
        """Stop the stream (``POST /stop``), then cancel and await every task of the handle.

        Idempotent. A stream that already ended by itself (the gateway answers 404) is
        not an error. Buffered frames, data and events stay readable.

        Raises:
            JobError: the gateway could not be reached or refused (the handle's tasks
                are stopped anyway).
        """
        self._client._run(self._stop(), STOP_TIMEOUT_S + _ITEM_MARGIN_S)

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        await self._client._arun(self._stop())

    def stats(self) -> dict[str, Any]:
        """Counters: frames sent, received and dropped (queue full), errors, state.

        ``frames_dropped``/``data_dropped``/``events_dropped`` count items a consumer
        did not read before the queue (``frame_queue`` frames, 1024 data lines, 256
        events) overflowed; the oldest go first.
        """
        return self._core.stats()

    def __enter__(self) -> StreamHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> StreamHandle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def __repr__(self) -> str:
        stats = self._core.stats()
        state = "stopped" if self.stopped else "publishing" if stats["publishing"] else "open"
        return f"<StreamHandle {self.stream_id} ({self.capability}) {state}>"

    # -- checks (any thread) ---------------------------------------------------------------------

    def _require(self, key: str, doing: str) -> str:
        url = self._urls.get(key, "")
        if url:
            return url
        if key == "trickle_events_url":
            raise NotAvailableError(
                f"cannot {doing} of stream {self.stream_id}: the gateway gave no {key}",
                fix="go-livepeer's gateway reads the events channel itself; status() carries "
                "the worker's status events",
            )
        where = ", ".join(
            f"{name}={self._urls[name]!r}"
            for name in ("whip_url", "rtmp_url", "whep_url", "rtmp_output_url")
            if self._urls.get(name)
        )
        raise NotAvailableError(
            f"cannot {doing} of stream {self.stream_id} from Python: the gateway gave no "
            f"{key}. {_NO_TRICKLE} Send video to its WHIP or RTMP URL with a WebRTC client, "
            f"OBS or ffmpeg, and watch the output over WHEP or RTMP"
            + (f" ({where})" if where else "")
            + ". update_params(), status(), data() and stop() work as usual",
            fix="to publish and read numpy frames from Python, run the stream through "
            "byoc_lab's gateway (byoc_lab.LocalNetwork, or `byoc-lab gateway`)",
        )

    def _require_data(self) -> None:
        if "data_url" in self._urls and not self._urls["data_url"]:
            raise NotAvailableError(
                f"stream {self.stream_id} has no data output",
                fix="start the stream with enable_data=True",
            )

    # -- iteration -----------------------------------------------------------------------------

    def _iterate(
        self,
        feed: Callable[[], Coroutine[Any, Any, Feed[T]]],
        timeout: float | None,
        *,
        after_input: bool = False,
    ) -> Iterator[T]:
        """Items of ``feed``; with ``after_input``, silence after the input's end ends it."""
        source = self._client._run(feed(), _QUICK_S)
        wait = None if timeout is None else timeout + _ITEM_MARGIN_S
        while True:
            step = self._core.next_item(source, timeout, after_input)
            item: T | None = self._client._run(step, wait)
            if item is None:
                return
            yield item

    async def _aiterate(
        self,
        feed: Callable[[], Coroutine[Any, Any, Feed[T]]],
        wait_s: float | None,
        *,
        after_input: bool = False,
    ) -> AsyncIterator[T]:
        source = await self._client._arun(feed())
        while True:
            step = self._core.next_item(source, wait_s, after_input)
            item: T | None = await self._client._arun(step)
            if item is None:
                return
            yield item

    # -- on the loop ---------------------------------------------------------------------------

    async def _ensure_started(self) -> None:
        """Start the output and data readers (the client calls it at stream start)."""
        await self._core.ensure_started()

    async def _stop(self) -> None:
        try:
            await self._core.stop()
        finally:
            self._client._forget(self)
