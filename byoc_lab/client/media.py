"""A stream's media on the client side: frames in (encode, publish), frames out (read, decode).

The only client module that loads PyAV (through :mod:`byoc_lab.media`); a stream
handle imports it when it first needs media, so batch jobs never load it.

- :class:`StreamInput` encodes RGB frames to H.264 MPEG-TS as they come and streams
  each frame's bytes into the current segment of the stream's input channel at once;
  every keyframe (one per ``gop_seconds``) opens a new segment, as go-livepeer's
  gateway segments its ingest.
- :func:`read_frames` follows the stream's output channel and decodes progressively:
  a frame is handed on as soon as its last byte has arrived, not when its segment ends.

Codec work runs on one thread per direction (PyAV releases the GIL), never on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import aiohttp
import numpy as np

from byoc_lab.client.feeds import Feed, StreamCounts
from byoc_lab.errors import ByocLabError, DecodeError, FrameError, RuntimeStateError, TrickleError
from byoc_lab.frames import Frame, RGBImage, describe_array, validate_rgb
from byoc_lab.media import (
    CLOCK,
    Chunk,
    DecodedVideoFrame,
    EncoderConfig,
    MediaItem,
    SegmentEncoder,
    StreamDecoder,
)
from byoc_lab.trickle import RetryPolicy, TricklePublisher, TrickleSubscriber
from byoc_lab.trickle.wire import CONTENT_TYPE_MPEGTS
from byoc_lab.worker.channels import SegmentedOutput

__all__ = ["GOP_SECONDS", "StreamInput", "read_frames"]

logger = logging.getLogger(__name__)

GOP_SECONDS: Final = 1.0
"""Keyframe (and input segment) interval: 1 s, so the first output shows up fast."""

_END: Final = object()


class StreamInput:
    """Encodes frames and streams them into one stream's input trickle channel.

    One frame at a time: :meth:`send` and :meth:`publish` take turns (a lock), and
    frames get consecutive timestamps ``1/fps`` apart (in whole 90 kHz ticks).
    :meth:`end` flushes, completes the last segment and deletes the input channel,
    which tells the worker the input is over (it then finishes its output and ends the
    stream). :meth:`abort` drops everything without that signal. Use it on the loop
    that created it.

    Args:
        http: the client's session.
        url: the input channel (``trickle_publish_url``).
        retry: trickle bounds.
        counts: where frames and segments sent are counted.
        gop_seconds: keyframe interval.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        *,
        retry: RetryPolicy,
        counts: StreamCounts,
        gop_seconds: float = GOP_SECONDS,
    ) -> None:
        self.url = url
        self._http = http
        self._retry = retry
        self._counts = counts
        self._gop_seconds = gop_seconds
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="byoc-client-encode")
        self._lock = asyncio.Lock()
        self._encoder: SegmentEncoder | None = None  # used on the pool's thread only
        self._next_pts = 0  # 90 kHz timestamp of the next frame
        self._publisher: TricklePublisher | None = None
        self._output: SegmentedOutput | None = None
        self.ended = False

    async def send(self, frame: Any, fps: float) -> None:
        """Encode ``frame`` and write its bytes into the input channel now.

        Raises:
            FrameError: ``frame`` is not an RGB uint8 ``HxWx3`` array (or a Frame).
            EncodeError: the encoder refused it (odd width or height, …).
            RuntimeStateError: the input has ended.
            TrickleError: the input channel refused the bytes.
        """
        loop = asyncio.get_running_loop()
        async with self._lock:
            self._check_open()
            image = _image_of(frame)
            chunks = await loop.run_in_executor(self._pool, self._encode, image, fps)
            await self._write(chunks)

    async def publish(self, frames: Iterable[Any], *, fps: float, realtime: bool) -> int:
        """Send every frame of ``frames`` (iterated on the codec thread); return the count.

        With ``realtime`` frame ``i`` leaves ``i / fps`` seconds after the first one
        (never earlier); without it frames leave as fast as they are encoded.

        Raises:
            as :meth:`send`, and whatever iterating ``frames`` raises.
        """
        loop = asyncio.get_running_loop()
        async with self._lock:
            self._check_open()
            iterator = iter(frames)
            sent = 0
            started: float | None = None
            try:
                while True:
                    if realtime and started is not None:
                        delay = started + sent / fps - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    chunks = await loop.run_in_executor(
                        self._pool, self._encode_next, iterator, fps
                    )
                    if chunks is None:
                        return sent
                    started = loop.time() if started is None else started
                    await self._write(chunks)
                    sent += 1
            finally:
                self._close_iterator(iterator)

    async def end(self) -> None:
        """Flush the encoder, complete the last segment and delete the input channel.

        Idempotent. The worker sees the channel close, processes what it has and ends
        its output, so every frame sent comes back before the output channel closes.

        Raises:
            TrickleError: the last bytes or the delete could not be sent.
        """
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self.ended:
                return
            self.ended = True
            try:
                if self._encoder is not None:
                    chunks = await loop.run_in_executor(self._pool, self._encoder.close)
                    for chunk in chunks:
                        await self._write_chunk(chunk)
                if self._output is not None:
                    await self._output.end()
                publisher = self._publisher or TricklePublisher(
                    self._http, self.url, retry=self._retry
                )
                await publisher.close(delete=True)
            finally:
                self._pool.shutdown(wait=False, cancel_futures=True)

    async def abort(self) -> None:
        """Drop the segment being written and the preconnected one; no end signal.

        Idempotent; waits for a :meth:`send` in progress. Never raises for the channel.
        """
        async with self._lock:
            self.ended = True
            output, self._output = self._output, None
            if output is not None:
                try:
                    await output.abort(asyncio.CancelledError())  # cut, do not DELETE
                except ByocLabError as exc:
                    logger.debug("input segment of %s not aborted cleanly: %s", self.url, exc)
            if self._publisher is not None:
                await self._publisher.close()
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- on the codec thread -------------------------------------------------------------

    def _encode_next(self, iterator: Iterator[Any], fps: float) -> list[Chunk] | None:
        item = next(iterator, _END)
        if item is _END:
            return None
        return self._encode(_image_of(item), fps)

    def _encode(self, image: RGBImage, fps: float) -> list[Chunk]:
        if self._encoder is None:
            config = EncoderConfig(fps=fps, gop_seconds=self._gop_seconds, preset="ultrafast")
            self._encoder = SegmentEncoder(config)
        pts = self._next_pts
        self._next_pts += round(CLOCK / fps)  # whole ticks: exact at 24, 25, 30, 60 fps
        return self._encoder.encode(image, pts)

    # -- on the loop -----------------------------------------------------------------------

    async def _write(self, chunks: list[Chunk]) -> None:
        for chunk in chunks:
            await self._write_chunk(chunk)
        if self._output is None or not self._output.dropping:
            self._counts.frames_sent += 1

    async def _write_chunk(self, chunk: Chunk) -> None:
        if self._output is None:
            publisher = TricklePublisher(
                self._http, self.url, mime=CONTENT_TYPE_MPEGTS, retry=self._retry
            )
            self._publisher = await publisher.__aenter__()
            self._output = SegmentedOutput(publisher, on_lost=self._lost)
        if await self._output.write(chunk.data, new_segment=chunk.starts_segment):
            self._counts.segments_sent += 1

    def _lost(self, seq: int, exc: TrickleError) -> None:
        self._counts.input_errors += 1
        logger.warning("input segment %d of %s lost: %s", seq, self.url, exc)

    def _close_iterator(self, iterator: Iterator[Any]) -> None:
        """Close a generator source on the codec thread (after any ``next`` in flight)."""
        close = getattr(iterator, "close", None)
        if callable(close):
            try:
                self._pool.submit(close)
            except RuntimeError:  # the pool was shut down: the generator dies with its owner
                logger.debug("source iterator of %s left to the garbage collector", self.url)

    def _check_open(self) -> None:
        if self.ended:
            raise RuntimeStateError(
                "the stream's input has ended (end_input(), or publish() with end_input=True)",
                fix="start a new stream to send more frames",
            )


def _image_of(item: Any) -> RGBImage:
    if isinstance(item, Frame):
        return validate_rgb(item.image)
    if isinstance(item, np.ndarray):
        return validate_rgb(item)
    raise FrameError(
        "a stream takes frames as RGB images",
        expected="numpy uint8 arrays of shape (height, width, 3), or byoc_lab Frames "
        "(what FrameSources yield)",
        got=describe_array(item),
    )


async def read_frames(
    http: aiohttp.ClientSession,
    url: str,
    feed: Feed[RGBImage],
    counts: StreamCounts,
    *,
    retry: RetryPolicy,
) -> None:
    """Decode the output channel at ``url`` into ``feed``, frame by frame, until it closes.

    Starts at segment 0; segments the server no longer has when the reader asks (it
    fell out of the window, HTTP 470) are skipped and counted in ``output_lost``. A
    segment whose connection drops is read again from where it broke; one that cannot
    be is counted (``output_errors``) and skipped; undecodable stretches are counted and
    the decoder resumes at the next keyframe.

    Raises:
        TrickleError: the channel cannot be followed, or ``retry.attempts`` segments in
            a row broke off.
    """
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1, thread_name_prefix="byoc-client-decode")
    decoder = StreamDecoder()
    broken = 0
    try:
        async with TrickleSubscriber(http, url, start_seq=0, retry=retry) as subscriber:
            async for segment in subscriber:
                if subscriber.skipped > counts.output_lost:
                    logger.info("output of %s: %d segments lost", url, subscriber.skipped)
                    counts.output_lost = subscriber.skipped
                try:
                    async for chunk in segment:
                        done = await loop.run_in_executor(pool, _decode, decoder.feed, chunk)
                        _deliver(done, feed, counts)
                except TrickleError as exc:
                    broken += 1
                    counts.output_errors += 1
                    logger.debug("output segment %d broke off: %s", segment.seq, exc)
                    if broken >= retry.attempts:
                        raise
                else:
                    broken = 0
                _deliver(
                    await loop.run_in_executor(pool, _decode, decoder.end_segment), feed, counts
                )
        _deliver(await loop.run_in_executor(pool, _decode, decoder.flush), feed, counts)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _decode(step: Any, *args: Any) -> tuple[list[MediaItem], bool]:
    """Run one decoder step on the codec thread; (items, whether it hit bad media)."""
    try:
        return step(*args), False
    except DecodeError as exc:
        logger.debug("output not decodable: %s", exc)
        return [], True


def _deliver(
    done: tuple[list[MediaItem], bool], feed: Feed[RGBImage], counts: StreamCounts
) -> None:
    items, failed = done
    counts.decode_errors += failed
    for item in items:
        if isinstance(item, DecodedVideoFrame):
            feed.put(item.image)
