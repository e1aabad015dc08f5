"""Bad input on the channels a worker's stream reads: garbage video and bad control messages.

Promises:

- Garbage or truncated MPEG-TS on a stream's input channel is reported (an ``error``
  event of type ``decode``), every frame of the intact segments still comes back (read
  from their burned-in numbers), the stream ends cleanly when its input ends, and the
  worker stays healthy and serves the next job.
- A control message that is not JSON, nested too deep, or holds a value no parameter
  takes is reported and skipped; the next good message still applies.

A real worker on 127.0.0.1 is started with ``POST /stream/start``, on channels of a
real trickle server; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from byoc_lab.builtins import GreenTint
from byoc_lab.framecode import read_frame_number
from byoc_lab.media import DecodedVideoFrame, EncoderConfig, SegmentEncoder, StreamDecoder
from byoc_lab.sources import SyntheticSource
from byoc_lab.trickle import (
    RetryPolicy,
    TricklePublisher,
    TrickleServer,
    TrickleServerConfig,
    TrickleSubscriber,
)
from byoc_lab.worker import WorkerConfig, WorkerServer
from byoc_lab.worker.request import SessionConfig

from .stack import assert_green

FAST = RetryPolicy(attempts=3, delay=0.05, connect_timeout=2.0, read_timeout=5.0, wait_timeout=10)
SESSION = SessionConfig(retry=FAST, heartbeat_interval=0.5, status_interval=0.5, error_interval=0)
"""error_interval=0: every error is its own event, so each message can be checked."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Rig:
    """A worker and a trickle server that records which requests reached it."""

    http: aiohttp.ClientSession
    worker: WorkerServer
    trickle: TrickleServer
    base: str
    arrived: dict[str, asyncio.Event] = field(default_factory=dict)

    def seen(self, line: str) -> asyncio.Event:
        return self.arrived.setdefault(line, asyncio.Event())

    async def start_stream(self, stream_id: str, *roles: str) -> None:
        """Open ``{id}-{role}`` channels and start the worker's stream on them."""
        body: dict[str, Any] = {"gateway_request_id": stream_id}
        for role in roles:
            self.trickle.create_channel(f"{stream_id}-{role}")
            body[f"{role}_url"] = f"{self.base}/{stream_id}-{role}"
        async with self.http.post(self.worker.url + "/stream/start", json=body) as r:
            assert r.status == 200, await r.text()

    async def stream_stats(self, stream_id: str) -> dict[str, Any]:
        async with self.http.get(self.worker.url + "/stream/status") as r:
            streams: dict[str, dict[str, Any]] = (await r.json())["streams"]
        return streams.get(stream_id, {})

    async def publish(self, channel: str, segments: list[list[bytes]]) -> None:
        async with TricklePublisher(self.http, f"{self.base}/{channel}", retry=FAST) as pub:
            for segment in segments:
                async with pub.segment() as writer:
                    for data in segment:
                        await writer.write(data)

    async def read_json(self, channel: str) -> list[dict[str, Any]]:
        docs = []
        url = f"{self.base}/{channel}"
        async with TrickleSubscriber(self.http, url, start_seq=0, retry=FAST) as subscriber:
            async for segment in subscriber:
                docs.append(json.loads(await segment.read()))
        return docs

    async def read_numbers(self, channel: str) -> list[int | None]:
        """Burned-in numbers of every frame on ``channel``, until it ends."""
        decoder, numbers = StreamDecoder(), []
        url = f"{self.base}/{channel}"
        async with TrickleSubscriber(self.http, url, start_seq=0, retry=FAST) as subscriber:
            async for segment in subscriber:
                async for chunk in segment:
                    numbers += _numbers(decoder.feed(chunk))
                numbers += _numbers(decoder.end_segment())
        return numbers + _numbers(decoder.flush())

    async def healthy_and_serving(self) -> None:
        async with self.http.get(self.worker.url + "/health") as r:
            assert (await r.json())["status"] == "IDLE"
        frame = bytes(64 * 48 * 3)
        async with self.http.post(self.worker.url + "/job", data=frame) as r:
            assert r.status == 200
            assert_green(await r.read())


def _numbers(items: list[Any]) -> list[int | None]:
    return [read_frame_number(i.image) for i in items if isinstance(i, DecodedVideoFrame)]


def clip(count: int) -> list[list[bytes]]:
    """``count`` frames (numbers burned in) at 30 fps, one 30-frame GOP per segment."""
    source = SyntheticSource("solid", width=128, height=96, color=(100, 100, 100))
    encoder = SegmentEncoder(EncoderConfig(gop_frames=30, preset="ultrafast"))
    chunks = [c for i in range(count) for c in encoder.encode(source.render(i), i * 3000)]
    segments: list[list[bytes]] = []
    for chunk in [*chunks, *encoder.close()]:
        if chunk.starts_segment or not segments:
            segments.append([])
        segments[-1].append(chunk.data)
    return segments


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    trickle = TrickleServer(TrickleServerConfig(autocreate=True))
    holder: list[Rig] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if holder:
            holder[0].seen(f"{request.method} {request.raw_path}").set()
        return await handler(request)

    app = web.Application(middlewares=[record])
    trickle.setup(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    worker = WorkerServer(GreenTint(), WorkerConfig(frame_size=(64, 48), session=SESSION))
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await worker.start()
        await worker.core.wait_initialized()
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            holder.append(Rig(http, worker, trickle, base))
            yield holder[0]
    finally:
        await worker.stop()
        await runner.cleanup()


async def test_garbage_and_truncated_video_is_reported_and_the_stream_goes_on(rig: Rig) -> None:
    first, middle, last = clip(90)
    garbage = [random.Random(10).randbytes(40_000)]  # seeded: the same bytes every run
    truncated = [*middle[:10], middle[10][:100]]  # cut inside a TS packet of frame 40
    await rig.start_stream("v", "subscribe", "publish", "events")
    events = asyncio.create_task(rig.read_json("v-events"))
    output = asyncio.create_task(rig.read_numbers("v-publish"))
    await asyncio.wait_for(rig.seen("GET /v-subscribe/-2").wait(), 10)
    await rig.publish("v-subscribe", [garbage, first, truncated, last])
    rig.trickle.close_channel("v-subscribe")  # end of input: the stream drains and ends

    numbers = await asyncio.wait_for(output, 30)
    docs = [doc["event"] for doc in await asyncio.wait_for(events, 30)]
    readable = [n for n in numbers if n is not None]
    assert len(numbers) - len(readable) <= 1  # frame 40 may come out concealed, unreadable
    assert [n for n in readable if n not in range(30, 60)] == [*range(30), *range(60, 90)]
    cut = [n for n in readable if n in range(30, 60)]  # the truncated segment: a prefix
    assert cut == list(range(30, 30 + len(cut)))
    assert cut[-1:] <= [40]  # nothing from after the cut
    decode_errors = [e for e in docs if e.get("type") == "error" and e["error_type"] == "decode"]
    assert decode_errors
    assert "undecodable" in decode_errors[0]["message"]
    assert docs[-1]["type"] == "stream_stopped"
    assert (docs[-1]["reason"], docs[-1]["error"]) == ("end of input", None)
    await rig.healthy_and_serving()


async def test_input_of_nothing_but_garbage_ends_cleanly(rig: Rig) -> None:
    await rig.start_stream("g", "subscribe", "publish", "events")
    events = asyncio.create_task(rig.read_json("g-events"))
    output = asyncio.create_task(rig.read_numbers("g-publish"))
    await asyncio.wait_for(rig.seen("GET /g-subscribe/-2").wait(), 10)
    noise = random.Random(11)
    await rig.publish("g-subscribe", [[noise.randbytes(188 * 50)] for _ in range(3)])
    rig.trickle.close_channel("g-subscribe")

    assert await asyncio.wait_for(output, 30) == []
    docs = [doc["event"] for doc in await asyncio.wait_for(events, 30)]
    assert any(e.get("error_type") == "decode" for e in docs)
    assert docs[-1] == {**docs[-1], "type": "stream_stopped", "reason": "end of input"}
    assert docs[-1]["error"] is None
    await rig.healthy_and_serving()


BAD_CONTROL = [
    (b"not json", "control", "not JSON"),
    (b"[" * 5000, "control", "not JSON"),
    (b'["boost", 3]', "control", "must be a JSON object"),
    (b'{"boost": 1' + b"0" * 400 + b"}", "params", "out of bounds"),
    (b'{"boost": "lots"}', "params", "whole number"),
    (b'{"nosuch": 1}', "params", "no parameter 'nosuch'"),
    (b'{"width": 64}', "params", "together"),
]


async def test_bad_control_messages_are_reported_and_the_next_good_one_applies(rig: Rig) -> None:
    await rig.start_stream("c", "control", "events")
    events = asyncio.create_task(rig.read_json("c-events"))
    await asyncio.wait_for(rig.seen("GET /c-control/-2").wait(), 10)
    async with TricklePublisher(rig.http, f"{rig.base}/c-control", retry=FAST) as pub:
        for count, (message, kind, _) in enumerate(BAD_CONTROL, start=1):
            async with pub.segment() as writer:
                await writer.write(message)
            for _ in range(250):  # each one is handled before the next is sent
                if sum((await rig.stream_stats("c"))["errors_by_kind"].values()) >= count:
                    break
                await asyncio.sleep(0.02)
            stats = await rig.stream_stats("c")
            assert stats["errors_by_kind"].get(kind), (message[:40], stats["errors_by_kind"])
        async with pub.segment() as writer:
            await writer.write(b'{"boost": 7}')
        for _ in range(250):
            if (await rig.stream_stats("c"))["params"].get("boost") == 7:
                break
            await asyncio.sleep(0.02)
    stats = await rig.stream_stats("c")
    assert stats["params"]["boost"] == 7
    assert stats["state"] == "RUNNING"
    assert getattr(rig.worker.core.runner.processor, "boost", None) == 7
    async with rig.http.post(rig.worker.url + "/stream/stop") as r:
        assert r.status == 200
    docs = [doc["event"] for doc in await asyncio.wait_for(events, 30)]
    messages = " | ".join(e["message"] for e in docs if e.get("type") == "error")
    for _, _, words in BAD_CONTROL:
        assert words in messages, words
    assert [e["changed"] for e in docs if e.get("type") == "params_updated"] == [{"boost": 7}]
