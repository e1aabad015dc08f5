"""Live-stream test rig: a real trickle server on 127.0.0.1 and real trickle clients.

``rig`` (a :class:`StreamRig`) creates channels the way an orchestrator does, feeds
input segments encoded by byoc_lab's own encoder (each frame's bytes written as they
would arrive from a live encoder), reads the output channel back and decodes it,
and reads the events and data channels. No mocks.

Time limits per test come from tests/conftest.py (``TIME_LIMITS``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.media import (
    AudioPacket,
    Chunk,
    DecodedVideoFrame,
    EncoderConfig,
    SegmentEncoder,
    StreamDecoder,
)
from byoc_lab.runner import ProcessorRunner
from byoc_lab.sources import SyntheticSource
from byoc_lab.trickle import (
    RetryPolicy,
    TricklePublisher,
    TrickleServer,
    TrickleServerConfig,
    TrickleSubscriber,
)
from byoc_lab.worker.session import SessionConfig, StreamRequest, StreamSession

FAST = RetryPolicy(attempts=3, delay=0.05, connect_timeout=2.0, read_timeout=5.0, wait_timeout=5.0)
"""Trickle bounds that fail fast enough for tests."""

READER = replace(FAST, wait_timeout=10.0)
"""The test's own readers wait longer than the session needs to write."""


# -- input clips ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """Input segments as lists of per-frame TS chunks, and the pictures that made them."""

    segments: list[list[bytes]]
    source: SyntheticSource
    count: int

    def reference(self, number: int) -> RGBImage:
        return self.source.render(number)


def make_clip(
    count: int = 60,
    *,
    width: int = 128,
    height: int = 96,
    gop: int = 30,
    color: tuple[int, int, int] = (100, 100, 100),
) -> Clip:
    """``count`` solid-grey frames (frame numbers burned in) at 30 fps, one GOP a segment."""
    source = SyntheticSource("solid", width=width, height=height, color=color)
    encoder = SegmentEncoder(EncoderConfig(gop_frames=gop, preset="ultrafast"))
    chunks: list[Chunk] = []
    for index in range(count):
        chunks += encoder.encode(source.render(index), index * 3000)
    chunks += encoder.close()
    segments: list[list[bytes]] = []
    for chunk in chunks:
        if chunk.starts_segment or not segments:
            segments.append([])
        segments[-1].append(chunk.data)
    return Clip(segments, source, count)


# -- what comes back ----------------------------------------------------------------------


@dataclass
class OutFrame:
    number: int | None
    image: RGBImage
    pts: int
    at: float

    def means(self) -> tuple[float, float, float]:
        """Mean R, G, B of the bottom half (below the burned-in frame number)."""
        half = self.image[self.image.shape[0] // 2 :]
        r, g, b = (float(half[:, :, c].mean()) for c in range(3))
        return r, g, b


@dataclass
class Output:
    frames: list[OutFrame] = field(default_factory=list)
    audio: list[AudioPacket] = field(default_factory=list)
    segments: int = 0

    @property
    def numbers(self) -> list[int | None]:
        return [f.number for f in self.frames]


def assert_tinted(frame: OutFrame, boost: int = 80, base: int = 100) -> None:
    r, g, b = frame.means()
    assert abs(g - (base + boost)) < 8, (frame.number, r, g, b)
    assert abs(r - base) < 8, (frame.number, r, g, b)
    assert abs(b - base) < 8, (frame.number, r, g, b)


def assert_untinted(frame: OutFrame, base: int = 100) -> None:
    r, g, b = frame.means()
    assert all(abs(c - base) < 8 for c in (r, g, b)), (frame.number, r, g, b)


# -- the rig -------------------------------------------------------------------------------


class StreamRig:
    """A trickle server plus helpers to drive one stream session through it."""

    def __init__(self, server: TrickleServer, port: int, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.port = port
        self.http = http
        self.arrivals: dict[str, asyncio.Event] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def arrived(self, request_line: str) -> asyncio.Event:
        """Set once ``"GET /name/-2"`` (say) reached the server."""
        return self.arrivals.setdefault(request_line, asyncio.Event())

    def request(self, stream_id: str, *, params: dict[str, Any] | None = None) -> StreamRequest:
        """Channels ``{id}``, ``{id}-out``, ``-control``, ``-events``, ``-data``, created
        here as go-livepeer's orchestrator creates them before calling the worker."""
        self.server.create_channel(stream_id, "video/MP2T")
        self.server.create_channel(f"{stream_id}-out", "video/MP2T")
        self.server.create_channel(f"{stream_id}-control", "application/json")
        self.server.create_channel(f"{stream_id}-events", "application/json")
        self.server.create_channel(f"{stream_id}-data", "application/jsonl")
        return StreamRequest(
            request_id=stream_id,
            subscribe_url=self.url(stream_id),
            publish_url=self.url(f"{stream_id}-out"),
            control_url=self.url(f"{stream_id}-control"),
            events_url=self.url(f"{stream_id}-events"),
            data_url=self.url(f"{stream_id}-data"),
            params=params or {},
        )

    def session(
        self,
        request: StreamRequest,
        processor: object | Callable[[], ProcessorRunner],
        *,
        on_end: Callable[[StreamSession], None] | None = None,
        **config: Any,
    ) -> StreamSession:
        if callable(processor) and not hasattr(processor, "process"):
            runner = processor
        else:
            fixed = ProcessorRunner(processor)
            runner = lambda: fixed  # noqa: E731
        settings = {
            "retry": FAST,
            "heartbeat_interval": 0.3,
            "status_interval": 0.3,
            "error_interval": 0.2,
            "data_interval": 0.05,
            "final_timeout": 3.0,
            **config,
        }
        return StreamSession(
            request, runner=runner, http=self.http, config=SessionConfig(**settings), on_end=on_end
        )

    async def wait_subscribed(self, stream_id: str) -> None:
        """Until the session's input subscriber has asked for the current segment."""
        await self.arrived(f"GET /{stream_id}/-2").wait()

    async def feed(
        self,
        stream_id: str,
        segments: Sequence[Sequence[bytes]],
        *,
        pace: float = 0.0,
        close: bool = True,
        between: Callable[[int], Awaitable[None]] | None = None,
    ) -> list[float]:
        """Publish ``segments`` chunk by chunk (``pace`` s apart); close the channel after.

        ``between(i)`` is awaited before segment ``i`` (i > 0). Returns the times at which
        each segment finished being written.
        """
        finished: list[float] = []
        async with TricklePublisher(self.http, self.url(stream_id), retry=FAST) as publisher:
            for index, segment in enumerate(segments):
                if index and between is not None:
                    await between(index)
                async with publisher.segment() as writer:
                    for data in segment:
                        await writer.write(data)
                        if pace:
                            await asyncio.sleep(pace)
                finished.append(time.perf_counter())
        if close:
            self.server.close_channel(stream_id)
        return finished

    async def read_output(
        self,
        stream_id: str,
        *,
        until: int | None = None,
        on_frame: Callable[[OutFrame], None] | None = None,
    ) -> Output:
        """Decode ``{id}-out`` until its end of stream (or ``until`` frames)."""
        out = Output()
        decoder = StreamDecoder()

        def take(items: list[DecodedVideoFrame | AudioPacket]) -> None:
            now = time.perf_counter()
            for item in items:
                if isinstance(item, AudioPacket):
                    out.audio.append(item)
                    continue
                frame = OutFrame(read_frame_number(item.image), item.image, item.pts, now)
                out.frames.append(frame)
                if on_frame is not None:
                    on_frame(frame)

        async with TrickleSubscriber(
            self.http, self.url(f"{stream_id}-out"), start_seq=0, retry=READER
        ) as subscriber:
            async for segment in subscriber:
                out.segments += 1
                async for chunk in segment:
                    take(decoder.feed(chunk))
                    if until is not None and len(out.frames) >= until:
                        return out
                take(decoder.end_segment())
        take(decoder.flush())
        return out

    async def read_json(self, channel: str) -> list[Any]:
        """Every segment of ``channel`` parsed as one JSON document, until end of stream."""
        docs: list[Any] = []
        async with TrickleSubscriber(
            self.http, self.url(channel), start_seq=0, retry=READER
        ) as subscriber:
            async for segment in subscriber:
                docs.append(json.loads(await segment.read()))
        return docs

    async def read_lines(self, channel: str) -> list[bytes]:
        """Every line of every segment of ``channel``, until end of stream."""
        lines: list[bytes] = []
        async with TrickleSubscriber(
            self.http, self.url(channel), start_seq=0, retry=READER
        ) as subscriber:
            async for segment in subscriber:
                body = await segment.read()
                assert body.endswith(b"\n"), body[-40:]
                lines += body.splitlines()
        return lines


def session_tasks(session: StreamSession) -> list[asyncio.Task[Any]]:
    """Tasks still alive that belong to ``session``: its own and its trickle clients'."""
    request = session.request
    reads = [u for u in (request.subscribe_url, request.control_url) if u]
    writes = [u for u in (request.publish_url, request.events_url, request.data_url) if u]

    def ours(name: str) -> bool:
        if name.startswith(f"{session} "):
            return True
        if name.startswith("trickle-get "):
            return any(name.startswith(f"trickle-get {u}/") for u in reads)
        return name.startswith("trickle-post ") and any(
            name.startswith(f"trickle-post {u}/") for u in writes
        )

    return [t for t in asyncio.all_tasks() if not t.done() and ours(t.get_name())]


def frames_seen(count: int) -> tuple[asyncio.Event, Callable[[OutFrame], None]]:
    """An event set once ``count`` output frames were decoded, and the ``on_frame`` that sets it."""
    seen = asyncio.Event()
    frames: list[OutFrame] = []

    def on_frame(frame: OutFrame) -> None:
        frames.append(frame)
        if len(frames) >= count:
            seen.set()

    return seen, on_frame


def events_of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d["event"] for d in docs if d["event"].get("type") == kind]


@pytest.fixture
async def rig() -> AsyncIterator[StreamRig]:
    """A TrickleServer (autocreate on) on 127.0.0.1 and a client session; both closed after."""
    server = TrickleServer(TrickleServerConfig(autocreate=True))
    holder: dict[str, StreamRig] = {}

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if "rig" in holder:
            holder["rig"].arrived(f"{request.method} {request.raw_path}").set()
        return await handler(request)

    app = web.Application(middlewares=[record])
    server.setup(app)
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        holder["rig"] = StreamRig(server, port, http)
        yield holder["rig"]
    await runner.cleanup()
