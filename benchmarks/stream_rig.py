"""The live-stream benchmark's rig: a trickle server and one timed stream.

:class:`TrickleHost` serves byoc_lab's :class:`TrickleServer` on 127.0.0.1 in the
benchmark's own event loop and creates each stream's channels as go-livepeer's
orchestrator does. :func:`run_stream` starts a stream on a worker process
(:mod:`.stream_workers`) with the same ``/stream/start`` body an orchestrator sends,
publishes the clip live, receives the output progressively and returns what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from byoc_lab.errors import ByocLabError, DecodeError
from byoc_lab.media import MediaItem, StreamDecoder
from byoc_lab.trickle import RetryPolicy, TricklePublisher, TrickleServer, TrickleSubscriber

from .stream_media import FPS, Clip, Reception
from .stream_workers import BenchError, WorkerProcess

__all__ = ["StreamResult", "StreamTiming", "TrickleHost", "run_stream"]

RETRY = RetryPolicy(attempts=3, delay=0.1, connect_timeout=5.0, read_timeout=20.0)
"""Trickle bounds for the benchmark's own publisher and receiver."""

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_CPU_SAMPLE_S = 0.05
_SUBSCRIBE_TIMEOUT_S = 15.0


# -- trickle server ------------------------------------------------------------------------


class TrickleHost:
    """byoc_lab's trickle server on 127.0.0.1 (ephemeral port), on the running loop."""

    def __init__(self) -> None:
        self.server = TrickleServer()
        self._gets: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def subscribed(self, channel: str) -> asyncio.Event:
        """Set once a GET for a segment of ``channel`` reached the server."""
        return self._gets.setdefault(channel, asyncio.Event())

    async def __aenter__(self) -> TrickleHost:
        @web.middleware
        async def watch(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if request.method == "GET":
                self.subscribed(request.path.strip("/").split("/")[0]).set()
            return await handler(request)

        app = web.Application(middlewares=[watch])
        self.server.setup(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def open_stream(self, stream_id: str) -> dict[str, str]:
        """Create the stream's channels; return the ``/stream/start`` URL fields."""
        names = {
            "subscribe_url": (stream_id, "video/MP2T"),
            "publish_url": (f"{stream_id}-out", "video/MP2T"),
            "control_url": (f"{stream_id}-control", "application/json"),
            "events_url": (f"{stream_id}-events", "application/json"),
        }
        for name, mime in names.values():
            self.server.create_channel(name, mime)
        return {key: f"{self.base_url}/{name}" for key, (name, _) in names.items()}

    def close_stream(self, stream_id: str) -> None:
        """Close every channel of the stream (idempotent)."""
        for suffix in ("", "-out", "-control", "-events"):
            self.server.close_channel(stream_id + suffix)


# -- one stream ----------------------------------------------------------------------------


@dataclass
class StreamResult:
    """One worker's run of one clip.

    Attributes:
        sent: input frames published; ``sent_at[i]`` is when frame ``i``'s bytes were
            handed to the publisher (its capture time, ``perf_counter``).
        stopped_at: when the input channel was closed.
        reception: what the receiver decoded, with arrival times.
        cpu_ms: the worker process's CPU time from the first input frame until the
            last output frame arrived (the sample just after it).
        loop_cpu_ms: the part of ``cpu_ms`` spent on the main (event-loop) thread.
        send_late_ms: the most a frame was sent after its due time (live pacing).
        receive_error: why the receiver stopped early, if it did.
    """

    sent: int
    sent_at: list[float]
    stopped_at: float
    reception: Reception
    cpu_ms: float
    loop_cpu_ms: float
    send_late_ms: float
    receive_error: str | None = None

    def latencies_ms(self) -> list[float]:
        """Glass-to-glass latency of every delivered input frame, in ms."""
        arrivals = self.reception.arrivals
        return [(arrivals[n] - self.sent_at[n]) * 1000 for n in sorted(arrivals) if n < self.sent]

    @property
    def delivered(self) -> int:
        """Distinct input frames that came out (by burned-in number)."""
        return sum(1 for n in self.reception.arrivals if n < self.sent)

    @property
    def after_stop(self) -> int:
        """Delivered frames that arrived only after the input channel was closed."""
        arrivals = self.reception.arrivals
        return sum(1 for n, at in arrivals.items() if n < self.sent and at > self.stopped_at)

    def output_fps(self) -> float | None:
        """Delivered frames per second between the first and last arrival."""
        times = sorted(self.reception.arrivals.values())
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])


async def _receive(http: aiohttp.ClientSession, url: str, reception: Reception) -> None:
    """Decode the output channel progressively until its end of stream.

    Undecodable output is counted and skipped (decoding resumes at the next keyframe).
    """
    decoder = StreamDecoder()

    def take(decode: Callable[[], list[MediaItem]]) -> None:
        try:
            reception.take(decode())
        except DecodeError:
            reception.decode_errors += 1

    async with TrickleSubscriber(http, url, start_seq=0, retry=RETRY) as subscriber:
        async for segment in subscriber:
            async for chunk in segment:
                take(functools.partial(decoder.feed, chunk))
            take(decoder.end_segment)
    take(decoder.flush)
    reception.ended = True


async def _publish(
    http: aiohttp.ClientSession, url: str, clip: Clip, sent_at: list[float]
) -> float:
    """Send each frame's bytes at its capture time (30 fps, live), segment by segment.

    Returns the most any frame was sent after its due time, in seconds.
    """
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    late = 0.0
    async with TricklePublisher(http, url, retry=RETRY) as publisher:
        for group in clip.segments():
            async with publisher.segment() as writer:
                for number in group:
                    due = start + number / FPS
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    late = max(late, loop.time() - due)
                    sent_at[number] = time.perf_counter()
                    await writer.write(clip.chunks[number])
    return late


async def _sample_cpu(worker: WorkerProcess, samples: list[tuple[float, tuple[int, int]]]) -> None:
    while True:
        samples.append((time.perf_counter(), worker.cpu_ticks()))
        await asyncio.sleep(_CPU_SAMPLE_S)


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, str]:
    async with http.post(url, json=body) as response:
        return response.status, await response.text()


@dataclass(frozen=True)
class StreamTiming:
    """How long the input lingers before it is closed and how long stragglers get."""

    linger: float
    straggler_wait: float


async def run_stream(
    http: aiohttp.ClientSession,
    host: TrickleHost,
    worker: WorkerProcess,
    clip: Clip,
    timing: StreamTiming,
) -> StreamResult:
    """Stream ``clip`` through ``worker`` as a gateway would; see the module docstring.

    Raises:
        BenchError: the worker refused the stream or never subscribed to its input.
    """
    stream_id = f"bench-{worker.name}-{clip.size}-{time.monotonic_ns() % 10**9}"
    urls = host.open_stream(stream_id)
    reception = Reception()
    tasks: list[asyncio.Task[None]] = []
    try:
        body = {
            "gateway_request_id": stream_id,
            **urls,
            "params": {"width": clip.width, "height": clip.height, "max_framerate": 60},
        }
        status, text = await _post(http, worker.url + "/stream/start", body)
        if status != 200:
            raise BenchError(f"{worker.name} /stream/start answered {status}: {text[:200]}")
        try:
            await asyncio.wait_for(host.subscribed(stream_id).wait(), _SUBSCRIBE_TIMEOUT_S)
        except TimeoutError:
            raise BenchError(f"{worker.name} never subscribed to its input") from None
        receiver = asyncio.create_task(_receive(http, urls["publish_url"], reception))
        tasks.append(receiver)
        samples: list[tuple[float, tuple[int, int]]] = []
        cpu_start = worker.cpu_ticks()
        tasks.append(asyncio.create_task(_sample_cpu(worker, samples)))
        sent_at = [0.0] * clip.count
        late = await _publish(http, urls["subscribe_url"], clip, sent_at)
        await asyncio.sleep(timing.linger)
        host.server.close_channel(stream_id)
        stopped_at = time.perf_counter()
        error = await _wait_for_frames(receiver, reception, clip.count, timing.straggler_wait)
        if worker.exit_code is not None:
            error = f"the worker exited ({worker.exit_code}): {worker.log_tail()}"
        await asyncio.sleep(_CPU_SAMPLE_S * 2)
        cpu_end = _ticks_after(samples, max(reception.arrivals.values(), default=stopped_at))
        cpu_ms, loop_ms = (
            (end - begin) * 1000 / _CLK_TCK for begin, end in zip(cpu_start, cpu_end, strict=True)
        )
        return StreamResult(
            clip.count, sent_at, stopped_at, reception, cpu_ms, loop_ms, late * 1000, error
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with asyncio.timeout(5):
                await _post(http, worker.url + "/stream/stop", {})
        host.close_stream(stream_id)


async def _wait_for_frames(
    receiver: asyncio.Task[None], reception: Reception, count: int, limit: float
) -> str | None:
    """Until every frame arrived, the output ended, or ``limit`` seconds passed.

    Returns why the receiver failed, if it did (a trickle or decode error).
    """
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline and len(reception.arrivals) < count:
        if receiver.done():
            exc = receiver.exception()
            if exc is None:
                return None
            if isinstance(exc, ByocLabError | aiohttp.ClientError):
                return f"{type(exc).__name__}: {exc}"
            raise exc
        await asyncio.sleep(0.02)
    return None


def _ticks_after(samples: list[tuple[float, tuple[int, int]]], moment: float) -> tuple[int, int]:
    """The first CPU sample taken at or after ``moment`` (else the last one)."""
    for at, ticks in samples:
        if at >= moment:
            return ticks
    return samples[-1][1] if samples else (0, 0)
