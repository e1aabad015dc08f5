"""A workbench's jobs: one frame through the gateway, or a live stream of the preview.

:func:`run_frame_job` sends one raw RGB frame as a batch job and returns a
:class:`JobOutcome`. Once the job has been sent, every failure (the gateway or worker
refused it, no answer, the worker is down, an answer of the wrong size) comes back as
``JobOutcome.error`` with the HTTP ``status`` (0 without an answer) and no output;
it is never raised. Mistakes found before anything is sent raise (the workbench's
``RuntimeStateError`` when not serving, ``FrameError`` for a frame that is not RGB of
the served size).

:class:`StreamRun` feeds the preview's input frames into a live stream and collects
the output frames as they arrive.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .errors import ByocLabError, FrameError, JobError
from .framecode import read_frame_number
from .frames import RGBImage, rgb_from_bytes, validate_rgb
from .listeners import Listeners
from .preview.frame import PreviewFrame
from .runtime import get_loop

if TYPE_CHECKING:
    from .client import GatewayClient, StreamHandle
    from .preview.engine import PreviewEngine

__all__ = ["JobOutcome", "StreamRun", "run_frame_job"]

logger = logging.getLogger(__name__)

RAW: Final = "application/octet-stream"
_STOP_TIMEOUT_S: Final = 30.0
_FPS_WINDOW_S: Final = 2.0
_SENT_MEMORY: Final = 512  # send times kept for latency, by frame number


@dataclass(frozen=True)
class JobOutcome:
    """One frame job through the gateway.

    Attributes:
        input: the frame sent.
        output: the frame that came back (None on failure).
        elapsed_ms: request to end of answer, as the client measured it.
        status: the HTTP status (0: no answer at all).
        capability: the capability the job ran on.
        error: why there is no output (None on success).
        orchestrator: the orchestrator that ran it (``X-Orchestrator-Url``), if said.
    """

    input: RGBImage
    output: RGBImage | None
    elapsed_ms: float
    status: int
    capability: str
    error: str | None = None
    orchestrator: str | None = None

    @property
    def ok(self) -> bool:
        """True when an output frame came back."""
        return self.output is not None


def check_job_frame(frame: Any, size: tuple[int, int]) -> RGBImage:
    """``frame`` if it is RGB uint8 of ``size`` (width, height), else FrameError."""
    image = validate_rgb(frame, "job frame")
    width, height = size
    if image.shape[:2] != (height, width):
        raise FrameError(
            "the job frame is not the size the worker serves",
            expected=f"{width}x{height} (raw RGB jobs carry no size)",
            got=f"{image.shape[1]}x{image.shape[0]}",
            fix="resize it, or create the workbench with size=(width, height)",
        )
    return image


def run_frame_job(client: GatewayClient, image: RGBImage, capability: str) -> JobOutcome:
    """Send ``image`` as a raw RGB batch job; failures come back in the outcome."""
    start = time.perf_counter()

    def failed(status: int, error: str) -> JobOutcome:
        elapsed = (time.perf_counter() - start) * 1000.0
        return JobOutcome(image, None, elapsed, status, capability, error)

    try:
        result = client.submit_job(capability, image.tobytes(), content_type=RAW)
    except JobError as exc:  # refused, unreachable or timed out: status 0 = no answer
        return failed(exc.status, str(exc))
    except ByocLabError as exc:  # e.g. the client was closed by stop_serving() meanwhile
        return failed(0, str(exc))
    height, width = image.shape[:2]
    if len(result.body) != image.nbytes:
        return failed(
            result.status,
            f"the worker answered {len(result.body):,} bytes, expected {image.nbytes:,} "
            f"(raw RGB {width}x{height})",
        )
    output = rgb_from_bytes(result.body, width, height)
    return JobOutcome(
        image,
        output,
        result.elapsed_ms,
        result.status,
        capability,
        orchestrator=result.orchestrator_url,
    )


class StreamRun:
    """A live stream through the gateway, fed with the preview's input frames.

    Args:
        handle: the started stream.
        preview: the engine whose processed frames' inputs are published (only while
            it plays: a paused preview sends nothing).
        queue_size: input frames waiting to be encoded; when full the oldest is
            replaced (latest wins) and counted in ``dropped``.

    It owns one publisher task and one output reader task on byoc_lab's loop;
    :meth:`stop` cancels and awaits both, then stops the stream. Output frames are
    :class:`~byoc_lab.preview.frame.PreviewFrame` objects whose ``output`` (and
    ``input``) is the stream's output image and whose ``index`` is the frame number
    burned into it (synthetic sources), else the count received.
    """

    def __init__(
        self, handle: StreamHandle, preview: PreviewEngine, *, queue_size: int = 2
    ) -> None:
        self._handle = handle
        self._preview = preview
        self._queue_size = queue_size
        self._queue: asyncio.Queue[RGBImage] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._callbacks: Listeners[PreviewFrame] = Listeners("stream run on_frame")
        self._lock = threading.Lock()
        self._latest: PreviewFrame | None = None
        self._sent_at: collections.OrderedDict[int, float] = collections.OrderedDict()
        self._arrivals: collections.deque[float] = collections.deque(maxlen=240)
        self._counts = {"sent": 0, "received": 0, "dropped": 0}
        self._latency_ms: float | None = None
        self._error: str | None = None
        self._state = "created"

    @property
    def handle(self) -> StreamHandle:
        """The stream's :class:`~byoc_lab.client.StreamHandle`."""
        return self._handle

    @property
    def stream_id(self) -> str:
        """The gateway's stream id."""
        return self._handle.stream_id

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> StreamRun:
        """Start publishing and reading (blocking briefly); return ``self``."""
        get_loop().run(self._astart(), _STOP_TIMEOUT_S)
        return self

    async def _astart(self) -> None:
        if self._state != "created":
            return
        self._queue = asyncio.Queue(self._queue_size)
        self._tasks = [
            asyncio.create_task(self._publish_top(), name=f"byoc-run {self.stream_id} publish"),
            asyncio.create_task(self._read_top(), name=f"byoc-run {self.stream_id} read"),
        ]
        self._state = "running"
        self._unsubscribe = self._preview.on_frame(self._on_input)

    def stop(self) -> None:
        """Stop feeding and reading, then stop the stream; idempotent."""
        get_loop().run(self._astop(), _STOP_TIMEOUT_S + 5.0)

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        await get_loop().run_async(self._astop())

    async def _astop(self) -> None:
        if self._state == "stopped":
            return
        self._state = "stopped"
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._handle.astop()
        except JobError as exc:
            self._error = f"the stream did not stop cleanly: {exc}"
            logger.warning("stream %s: %s", self.stream_id, self._error)

    # -- input ---------------------------------------------------------------------------

    def _on_input(self, frame: PreviewFrame) -> None:
        """Preview callback (loop thread): queue the input, replacing the oldest if full."""
        loop = get_loop()
        if loop.in_loop_thread():
            self._enqueue(frame.input)
        else:
            loop.loop.call_soon_threadsafe(self._enqueue, frame.input)

    def _enqueue(self, image: RGBImage) -> None:
        queue = self._queue
        if queue is None or self._state != "running":
            return
        if queue.full():
            queue.get_nowait()
            self._counts["dropped"] += 1
        queue.put_nowait(image)

    async def _publish_top(self) -> None:
        """Task top: encode and send queued frames until cancelled or the channel fails."""
        assert self._queue is not None
        try:
            while True:
                image = await self._queue.get()
                number = read_frame_number(image)
                if number is not None:
                    self._sent_at[number] = time.perf_counter()
                    while len(self._sent_at) > _SENT_MEMORY:
                        self._sent_at.popitem(last=False)
                await self._handle.asend(image)
                self._counts["sent"] += 1
        except ByocLabError as exc:
            self._fail(f"publishing stopped: {exc}")
        except Exception as exc:  # task top: logged and shown in stats()
            logger.exception("stream %s: publishing failed", self.stream_id)
            self._fail(f"publishing failed: {exc!r}")

    # -- output --------------------------------------------------------------------------

    async def _read_top(self) -> None:
        """Task top: collect output frames until the stream's output ends."""
        try:
            async for image in self._handle.aframes(timeout=None):
                self._on_output(image)
        except ByocLabError as exc:
            self._fail(f"reading output stopped: {exc}")
        except Exception as exc:  # task top: logged and shown in stats()
            logger.exception("stream %s: reading output failed", self.stream_id)
            self._fail(f"reading output failed: {exc!r}")
        else:
            if self._state == "running":
                self._state = "ended"

    def _on_output(self, image: RGBImage) -> None:
        now = time.perf_counter()
        self._counts["received"] += 1
        self._arrivals.append(now)
        number = read_frame_number(image)
        sent = self._sent_at.pop(number, None) if number is not None else None
        if sent is not None:
            self._latency_ms = (now - sent) * 1000.0
        received = self._counts["received"]
        frame = PreviewFrame(
            seq=received,
            index=number if number is not None else received,
            input=image,
            output=image,
            process_ms=None,
            error=None,
        )
        with self._lock:
            self._latest = frame
        self._callbacks.notify(frame)  # a consumer's bug is logged, never ends the stream

    def _fail(self, reason: str) -> None:
        if self._state == "stopped":
            return
        self._error = reason
        self._state = "failed"
        logger.warning("stream %s: %s", self.stream_id, reason)

    # -- what it shows ---------------------------------------------------------------------

    def latest(self) -> PreviewFrame | None:
        """The last output frame received (``seq`` counts them from 1)."""
        with self._lock:
            return self._latest

    def on_frame(self, callback: Callable[[PreviewFrame], None]) -> Callable[[], None]:
        """Call ``callback`` (on byoc_lab's loop) for every output frame; returns unsubscribe."""
        return self._callbacks.add(callback)

    def stats(self) -> dict[str, Any]:
        """Counters and state, readable from any thread.

        Keys: ``state`` (running, ended, failed, stopped), ``sent``, ``received``,
        ``dropped`` (inputs replaced before they were sent), ``fps`` (outputs per
        second over ~2 s), ``latency_ms`` (input sent to output received, for the last
        frame matched by its burned-in number; None if none matched), ``error`` and
        ``stream_id``.
        """
        now = time.perf_counter()
        recent = [t for t in list(self._arrivals) if now - t <= _FPS_WINDOW_S]
        span = recent[-1] - recent[0] if len(recent) > 1 else 0.0
        fps = (len(recent) - 1) / span if span > 0 else 0.0
        return {
            "state": self._state,
            **self._counts,
            "fps": round(fps, 2),
            "latency_ms": self._latency_ms,
            "error": self._error,
            "stream_id": self.stream_id,
        }

    def __repr__(self) -> str:
        return f"<StreamRun {self.stream_id} {self._state}>"
