"""The media path of a live stream: subscribe → decode → process → encode → publish.

Five stages, each one task on the event loop, joined by bounded queues, so a frame
moves on the moment its bytes are in and the stages overlap (decode of frame n+1,
``process()`` of frame n and encode of frame n-1 run at the same time)::

    ingest ──chunks──▶ decode ──frames──▶ process ──frames──▶ encode ──TS──▶ publish
          (INGEST_QUEUE)    (FRAME_QUEUE)        (FRAME_QUEUE)      (OUTPUT_QUEUE)

- **ingest** reads input segments chunk by chunk as they arrive (never a whole
  segment first).
- **decode** feeds whatever chunks are waiting to :class:`StreamDecoder` in one call
  on its own thread, numbers every picture (0, 1, 2, … in input order), drops frames
  over ``max_framerate`` and scales to ``width``x``height``.
- **process** calls the current processor (``runner()`` per frame, so a hot-swapped
  processor takes the next frame) with the data sink installed. If ``process()``
  raises or returns a malformed frame, the input frame goes on instead and the error
  is reported with its frame number.
- **encode** runs :class:`SegmentEncoder` on its own thread (input PTS kept; audio
  packets copied through).
- **publish** streams each frame's TS bytes into the current output segment at once
  and starts a new segment at each keyframe.

A full queue makes the stage before it wait, back to the trickle subscriber and TCP,
so memory is bounded: at most INGEST_QUEUE chunks, 2 x FRAME_QUEUE decoded frames
plus one batch per codec thread, OUTPUT_QUEUE encoded chunks, and the publisher's
own 8-chunk queue. A processor slower than the input makes the stream fall behind
(the trickle server's 5-segment window then skips the subscriber ahead); set
``max_framerate`` to keep up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import aiohttp

from byoc_lab.emit import data_sink
from byoc_lab.errors import TrickleError
from byoc_lab.media import EncoderConfig
from byoc_lab.runner import InputKind, ProcessorRunner
from byoc_lab.trickle import RetryPolicy, TricklePublisher, TrickleSubscriber
from byoc_lab.trickle.wire import CONTENT_TYPE_MPEGTS, SEQ_CURRENT

from .channels import DataChannel, Problem, SegmentedOutput
from .request import FrameShape
from .stats import SessionStats, now_ms
from .transcode import (
    Encoded,
    Frame,
    FrameDecoder,
    FrameEncoder,
    Ingested,
    Item,
    Mark,
    NetChunk,
    even,
)

__all__ = ["FRAME_QUEUE", "INGEST_QUEUE", "OUTPUT_QUEUE", "MediaPipeline"]

logger = logging.getLogger(__name__)

INGEST_QUEUE = 64
"""Input chunks (one network read each, typically a frame's bytes) waiting to decode."""

FRAME_QUEUE = 4
"""Decoded (or processed) frames and audio packets waiting for the next stage."""

OUTPUT_QUEUE = 64
"""Encoded TS chunks waiting to be written to the output segment."""

_MAX_BATCH = 32
"""Queued entries a codec thread takes in one call (fewer thread hops under load)."""


class MediaPipeline:
    """The five media stages of one stream; :meth:`stages` gives their coroutines.

    Args:
        http: the client session for both trickle channels.
        subscribe_url: the input channel.
        publish_url: the output channel, or None to process without output (frames are
            still processed, e.g. for a processor that only emits data).
        runner: returns the processor runner to use for the next frame.
        shape: initial frame size and rate limit; replace :attr:`shape` to change them.
        encoder: libx264 settings for the output (None: :data:`.transcode.DEFAULT_ENCODER`).
        retry: trickle client bounds.
        input_timeout: seconds to wait for the next input segment before failing.
        stats: counters to update (on the loop).
        report: ``report(kind, message, frame)`` for counted, rate-limited error events.
        emit: queues a plain event (first-segment events).
        data: the data channel whose sink is installed around ``process()``, if any.

    Each stage raises on a failure it cannot get past (input or output channel lost
    after the retry policy); decode, encode and processor errors are reported and
    skipped. The owner runs the stages as tasks, cancels them, then calls
    :meth:`close`.
    """

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        subscribe_url: str,
        publish_url: str | None,
        runner: Callable[[], ProcessorRunner],
        shape: FrameShape,
        encoder: EncoderConfig | None,
        retry: RetryPolicy,
        input_timeout: float,
        stats: SessionStats,
        report: Problem,
        emit: Callable[[dict[str, Any]], None],
        data: DataChannel | None,
    ) -> None:
        self.shape = shape
        self._http = http
        self._subscribe_url = subscribe_url
        self._publish_url = publish_url
        self._runner = runner
        self._retry = retry
        self._input_timeout = input_timeout
        self._stats = stats
        self._report = report
        self._emit = emit
        self._data = data
        self._chunks: asyncio.Queue[Ingested] = asyncio.Queue(INGEST_QUEUE)
        self._decoded: asyncio.Queue[Item] = asyncio.Queue(FRAME_QUEUE)
        self._processed: asyncio.Queue[Item] = asyncio.Queue(FRAME_QUEUE)
        self._encoded: asyncio.Queue[Encoded | Mark] = asyncio.Queue(OUTPUT_QUEUE)
        self._decode_pool = ThreadPoolExecutor(1, thread_name_prefix="byoc-decode")
        self._encode_pool = ThreadPoolExecutor(1, thread_name_prefix="byoc-encode")
        self._decoder = FrameDecoder()  # used on the decode thread only
        self._encoder = FrameEncoder(encoder)  # used on the encode thread only

    def stages(self) -> dict[str, Callable[[], Any]]:
        """The stage coroutine functions by name, in data-flow order."""
        stages: dict[str, Callable[[], Any]] = {
            "input": self._ingest,
            "decode": self._decode,
            "process": self._process,
        }
        if self._publish_url is not None:
            stages |= {"encode": self._encode, "output": self._publish}
        return stages

    def close(self) -> None:
        """Release the codec threads (after the stages ended); never blocks."""
        self._decode_pool.shutdown(wait=False, cancel_futures=True)
        self._encode_pool.shutdown(wait=False, cancel_futures=True)

    # -- ingest --------------------------------------------------------------------------

    async def _ingest(self) -> None:
        retry = replace(self._retry, wait_timeout=self._input_timeout)
        broken = skipped = 0
        async with TrickleSubscriber(
            self._http, self._subscribe_url, start_seq=SEQ_CURRENT, retry=retry
        ) as subscriber:
            while (segment := await subscriber.next_segment()) is not None:
                self._stats.segments_in += 1
                if self._stats.segments_in == 1:
                    self._emit({"type": "receive_first_ingest_segment", "timestamp": now_ms()})
                if subscriber.skipped > skipped:
                    self._report_skipped(segment.seq - (subscriber.skipped - skipped), segment.seq)
                    skipped = subscriber.skipped
                try:
                    async for data in segment:
                        await self._chunks.put(NetChunk(data, time.perf_counter()))
                except TrickleError as exc:
                    broken += 1
                    self._report("input", f"input segment {segment.seq} broke off: {exc}", None)
                    if broken >= retry.attempts:
                        raise
                else:
                    broken = 0
                await self._chunks.put(Mark.SEGMENT_END)
        await self._chunks.put(Mark.INPUT_END)

    def _report_skipped(self, first: int, after: int) -> None:
        """Input segments ``first`` … ``after - 1`` were never read (the server skipped us)."""
        which = f"segment {first}" if after - first == 1 else f"segments {first}-{after - 1}"
        self._report(
            "input",
            f"input {which} lost: the trickle server no longer had it when the worker "
            f"asked (HTTP 470: the worker fell behind, or it was lost on the way), so the "
            f"stream went on from segment {after}",
            None,
        )

    # -- decode --------------------------------------------------------------------------

    async def _decode(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await _take(self._chunks)
            result = await loop.run_in_executor(
                self._decode_pool, self._decoder.decode, batch, self.shape
            )
            stats = self._stats
            stats.frames_in += result.frames
            stats.frames_dropped += result.dropped
            stats.audio_in += result.audio
            stats.input_size = result.size or stats.input_size
            now = time.monotonic()
            for _ in range(result.frames):
                stats.fps_in.tick(now)
            for _ in range(result.audio):
                stats.audio_rate_in.tick(now)
            for message, number in result.errors:
                self._report("decode", message, number)
            for item in result.items:
                await self._decoded.put(item)
            if batch[-1] is Mark.INPUT_END:
                return

    # -- process -------------------------------------------------------------------------

    async def _process(self) -> None:
        forward = self._publish_url is not None
        with data_sink(self._data.offer if self._data is not None else None):
            while True:
                item = await self._decoded.get()
                if isinstance(item, Frame):
                    item = await self._process_frame(item)
                if forward:
                    await self._processed.put(item)
                if item is Mark.INPUT_END:
                    return

    async def _process_frame(self, frame: Frame) -> Frame:
        runner = self._runner()
        source = frame.image
        height, width = source.shape[:2]
        self._stats.frame_size = (width, height)
        # Pass-through must show the input as it came, even if process() changed it
        # in place before failing: give the processor a copy (~0.05 ms at 720p).
        given = source.copy() if runner.input_kind is InputKind.RGB else source
        if self._data is not None:
            self._data.frame = frame.number
        start = time.perf_counter()
        try:
            image = even(await runner.process(given, index=frame.number))
        except Exception as exc:  # user code: report, pass the frame through
            logger.debug("frame %d: %s.process() failed", frame.number, runner.name, exc_info=True)
            message = f"{runner.name}.process() failed on frame {frame.number}: "
            message += f"{type(exc).__name__}: {exc}"
            self._report("process", message, frame.number)
            image = source
        self._stats.process_ms.add((time.perf_counter() - start) * 1000)
        self._stats.frames_processed += 1
        return replace(frame, image=image)

    # -- encode --------------------------------------------------------------------------

    async def _encode(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await _take(self._processed)
            result = await loop.run_in_executor(self._encode_pool, self._encoder.encode, batch)
            self._stats.output_size = result.size or self._stats.output_size
            for message, number in result.errors:
                self._report("encode", message, number)
            for item in result.items:
                await self._encoded.put(item)
            if batch[-1] is Mark.INPUT_END:
                return

    # -- publish -------------------------------------------------------------------------

    async def _publish(self) -> None:
        assert self._publish_url is not None
        async with TricklePublisher(
            self._http, self._publish_url, mime=CONTENT_TYPE_MPEGTS, retry=self._retry
        ) as publisher:
            output = SegmentedOutput(publisher, on_lost=self._output_lost)
            try:
                while isinstance(item := await self._encoded.get(), Encoded):
                    await self._write(output, item)
                await output.end()
            except BaseException as exc:
                await output.abort(exc)
                raise

    def _output_lost(self, seq: int, exc: TrickleError) -> None:
        message = f"output segment {seq} lost ({exc}); frames are dropped until the next keyframe"
        self._report("output", message, None)

    async def _write(self, output: SegmentedOutput, item: Encoded) -> None:
        stats = self._stats
        if await output.write(item.chunk.data, new_segment=item.chunk.starts_segment):
            stats.segments_out += 1
            if stats.segments_out == 1:
                self._emit({"type": "send_first_processed_segment", "timestamp": now_ms()})
        if output.dropping:
            if item.frame is not None:  # counted and named, never silently gone
                number = item.frame.number
                message = f"frame {number} not delivered: its output segment was lost"
                self._report("output", message, number)
            return
        if item.frame is not None:
            stats.frames_out += 1
            stats.fps_out.tick()
            stats.latency.add((time.perf_counter() - item.frame.at) * 1000)
        elif item.chunk.pts is None:
            stats.audio_out += 1
            stats.audio_rate_out.tick()


async def _take(queue: asyncio.Queue[Any]) -> list[Any]:
    """Wait for one entry, then take whatever else is already queued (up to _MAX_BATCH)."""
    batch = [await queue.get()]
    while len(batch) < _MAX_BATCH and not queue.empty() and batch[-1] is not Mark.INPUT_END:
        batch.append(queue.get_nowait())
    return batch
