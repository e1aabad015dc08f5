"""The preview's machinery on byoc_lab's background loop (see :mod:`byoc_lab.preview.engine`).

Data flows through two tasks, the latest frame winning at each step::

    reader task ── SourceReader.read() in a thread ──▶ one-slot holder ──▶ processing task
      (paced at the source's fps unless live)     (overwrite = skipped)   (process_frame)

State machine (``stop()`` is final)::

    IDLE ──play()──▶ PLAYING ◀──play()── PAUSED ◀──pause() / step() / a source error
      └──pause()/step()──────────────────▶ PAUSED        any state ──stop()──▶ STOPPED

Every method here runs on the loop; :class:`~byoc_lab.preview.engine.PreviewEngine`
is the thread-safe face. The two tasks are created in :meth:`PreviewCore._start` and
cancelled and awaited in :meth:`PreviewCore.stop`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any

from byoc_lab.errors import RuntimeStateError, SourceError
from byoc_lab.frames import Frame
from byoc_lab.listeners import Listeners
from byoc_lab.params import carry_params
from byoc_lab.preview.frame import PreviewFrame
from byoc_lab.preview.processing import ActiveProcessor, Outcome, process_frame, retire
from byoc_lab.preview.reader import LatestSlot, SourceReader, open_preview_source, pace
from byoc_lab.preview.stats import PreviewStats, StatsRecorder
from byoc_lab.runner import ProcessorRunner
from byoc_lab.source_base import FrameSource, Size
from byoc_lab.tracebacks import describe_exception

__all__ = ["PreviewCore", "PreviewState"]

logger = logging.getLogger(__name__)


class PreviewState(Enum):
    """Where a preview is in its life."""

    IDLE = "idle"
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"


class PreviewCore:
    """A processor previewed on a source; every method must run on the loop."""

    def __init__(
        self,
        runner: ProcessorRunner,
        source: FrameSource,
        *,
        size: Size,
        frame_timeout: float,
        jpeg_quality: int,
    ) -> None:
        self.size = size
        self.frame_timeout = frame_timeout
        self.jpeg_quality = jpeg_quality
        self.active = ActiveProcessor(runner)
        self.reader = SourceReader(source, size)
        self.state = PreviewState.IDLE
        self.message = source.reason or f"ready: {source.describe()}"
        self.recorder = StatsRecorder()
        self.latest: PreviewFrame | None = None
        self.callbacks: Listeners[PreviewFrame] = Listeners("preview on_frame")
        self._seq = 0
        self._slot = LatestSlot()
        self._playing = asyncio.Event()
        self._control = asyncio.Lock()  # start, step, swap, set_source: one at a time
        self._read_lock = asyncio.Lock()  # one read (and its hand-over) at a time
        self._process_lock = asyncio.Lock()  # one frame through process() at a time
        self._tasks: list[asyncio.Task[None]] = []

    # -- control -----------------------------------------------------------------------

    async def play(self) -> None:
        """Start (initializing the processor first) or resume reading and processing."""
        self._assert_open("play")
        async with self._control:
            await self._start()
            self._assert_open("play")
            self.state = PreviewState.PLAYING
            source = self.reader.source
            self.message = source.reason or f"playing {source.describe()}"
            self._playing.set()

    def pause(self, message: str = "paused") -> None:
        """Stop taking new frames (a frame in flight still completes); no-op once stopped."""
        if self.state is PreviewState.STOPPED:
            return
        self.state = PreviewState.PAUSED
        self.message = message
        self._playing.clear()

    async def step(self) -> PreviewFrame | None:
        """Pause, then process exactly one new source frame and return it.

        Returns None when the source gives no frame (the message says why).
        """
        self._assert_open("step")
        async with self._control:
            await self._start()
            self.pause("paused (stepping frame by frame)")
            async with self._read_lock:
                frame = self._slot.take() or await self._read(self.reader)
            if frame is None:
                return None
            self._assert_open("step")
            return await self._handle(frame)

    async def swap(self, runner: ProcessorRunner) -> dict[str, Any]:
        """Initialize ``runner``'s processor, carry shared params, use it from the next frame.

        The old processor is shut down after its frame in flight, or abandoned if hung.

        Raises:
            Exception: whatever the new ``initialize()`` raised (the old one stays).
        """
        self._assert_open("swap the processor")
        new = ActiveProcessor(runner)
        async with self._control:
            await new.initialize()
            if self.state is PreviewState.STOPPED:
                await retire(new)
                self._assert_open("swap the processor")
            carried = carry_params(self.active.runner.processor, runner.processor)
            old, self.active = self.active, new
        logger.info("preview swapped in %s", runner.describe())
        await retire(old)
        return carried

    async def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Apply parameter values between frames; returns those that changed (ParamError)."""
        self._assert_open("update parameters")
        return await self.active.runner.update_params(params)

    async def set_source(self, spec: FrameSource | str) -> None:
        """Read from another source from the next frame; the old one is closed.

        Raises:
            SourceError: the new source cannot be opened (the old one stays).
        """
        self._assert_open("change the source")
        async with self._control:
            source = await asyncio.to_thread(open_preview_source, spec, self.size)
            old = self.reader
            if source is old.source:
                return
            new = SourceReader(source, self.size)
            old.interrupt()  # wake a read blocked in a browser camera
            async with self._read_lock:
                self.reader = new
                self._slot.take()
            if self.state is PreviewState.STOPPED:
                new.interrupt()
                await asyncio.to_thread(new.close)
            elif self.state is PreviewState.PLAYING:
                self.message = source.reason or f"playing {source.describe()}"
            else:
                self.message = f"{self.state.value}: source {source.describe()}"
        await asyncio.to_thread(old.close)

    async def stop(self) -> None:
        """Stop the tasks, close the source, shut the processor down; idempotent."""
        if self.state is PreviewState.STOPPED:
            return
        self.state = PreviewState.STOPPED
        self.message = "stopped"
        self._playing.clear()
        self.reader.interrupt()
        try:  # let the frame in flight finish (bounded: process() runs under a timeout)
            async with asyncio.timeout(self.frame_timeout + 1.0):
                await self._process_lock.acquire()
        except TimeoutError:
            logger.warning("stopping the preview while a frame is still being processed")
        else:
            self._process_lock.release()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.to_thread(self.reader.close)
        await retire(self.active)
        logger.info("preview stopped")

    # -- frames --------------------------------------------------------------------------

    def on_frame(self, callback: Callable[[PreviewFrame], None]) -> Callable[[], None]:
        """Call ``callback`` (on the loop) with every frame; returns the unsubscriber."""
        return self.callbacks.add(callback)

    def stats(self) -> PreviewStats:
        """A snapshot of the counters (thread-safe)."""
        return self.recorder.snapshot(
            state=self.state.value, source=self.reader.source.describe(), message=self.message
        )

    # -- internals -------------------------------------------------------------------------

    def _assert_open(self, action: str) -> None:
        if self.state is PreviewState.STOPPED:
            raise RuntimeStateError(
                f"cannot {action}: the preview is stopped",
                fix="stop() is final: create a new PreviewEngine (or Lab) to preview again",
            )

    async def _start(self) -> None:
        """Initialize the processor and create the tasks, once."""
        if self._tasks:
            return
        try:
            await self.active.initialize()
        except Exception as exc:
            self.message = f"{self.active.runner.name}.initialize() raised " + describe_exception(
                exc
            )
            raise
        self._tasks = [
            asyncio.create_task(self._run_loop(self._read_loop), name="byoc_lab-preview-read"),
            asyncio.create_task(
                self._run_loop(self._process_loop), name="byoc_lab-preview-process"
            ),
        ]

    async def _run_loop(self, body: Callable[[], Awaitable[None]]) -> None:
        """Task top: run ``body`` until cancelled; a bug pauses the preview, reported."""
        while True:
            try:
                await body()
            except Exception as exc:  # task top: logged and shown in the message; carries on
                logger.exception("preview task failed")
                self.pause(f"paused: the preview failed ({describe_exception(exc)})")

    async def _read_loop(self) -> None:
        due: float | None = None
        while True:
            if not self._playing.is_set():
                await self._playing.wait()
                due = None
            async with self._read_lock:
                reader = self.reader
                frame = await self._read(reader)
                if frame is not None and self._slot.put(frame):
                    self.recorder.skip()
            if frame is not None and not reader.live:
                due = await pace(due, reader.fps)

    async def _read(self, reader: SourceReader) -> Frame | None:
        """Read one frame in a thread; on failure pause with the reason and return None."""
        try:
            frame = await asyncio.to_thread(reader.read)
        except SourceError as exc:
            self._source_failed(reader, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a source may raise anything (cv2.error): reported
            self._source_failed(reader, describe_exception(exc))
            return None
        if frame is None:
            self._source_failed(reader, f"{reader.source.describe()} gave no frames")
        return frame

    def _source_failed(self, reader: SourceReader, why: str) -> None:
        reader.restart()
        if reader is self.reader and not reader.retiring and self.state is not PreviewState.STOPPED:
            logger.warning("preview source failed: %s", why)
            self.pause(f"paused: {why}")

    async def _process_loop(self) -> None:
        while True:
            await self._playing.wait()
            await self._slot.wait()
            if self._playing.is_set():
                frame = self._slot.take()
                if frame is not None:
                    await self._handle(frame)

    async def _handle(self, frame: Frame) -> PreviewFrame:
        async with self._process_lock:
            self._assert_open("process a frame")
            result = await process_frame(self.active, frame.image, frame.index, self.frame_timeout)
            self._seq += 1
            preview = PreviewFrame(
                seq=self._seq,
                index=frame.index,
                input=frame.image,
                output=result.output,
                process_ms=result.process_ms,
                error=result.error,
                jpeg_quality=self.jpeg_quality,
            )
            self.recorder.frame(
                result.process_ms,
                result.error,
                raised=result.outcome is Outcome.RAISED,
                timed_out=result.outcome is Outcome.TIMED_OUT,
            )
            self.latest = preview
            self.callbacks.notify(preview)
            return preview
