"""Trickle faults on a live stream: dropped connections, a late segment, a lost one, a restart.

Each test plays 150 numbered frames (5 s at 30 fps, input segment ``k`` = frames
``30k … 30k+29``; the worker's output has a 2 s GOP, output segment ``k`` = frames
``60k … 60k+59``) through gateway → orchestrator → worker while the orchestrator's
trickle server injects one fault (:mod:`byoc_lab.trickle.faults`). The docstring of
each test is its promise; recovery times are measured and printed (``pytest -s``),
and asserted only with generous bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import pytest

from byoc_lab.builtins import GreenTint
from byoc_lab.client.feeds import Feed, StreamCounts
from byoc_lab.client.media import StreamInput, read_frames
from byoc_lab.errors import TrickleError
from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.trickle import (
    RetryPolicy,
    TricklePublisher,
    TrickleServerConfig,
    TrickleSubscriber,
)
from byoc_lab.trickle.host import TrickleHost
from byoc_lab.worker import WorkerConfig, WorkerServer

from .faultnet import (
    SESSION,
    Run,
    fault_net,
    first_after,
    get_json,
    grey,
    measure,
    poll,
    run_stream,
    segment_frames,
    stall,
)

N = 150


def assert_clean(run: Run) -> None:
    """The stream ended normally: no reader or publisher error, final state ENDED."""
    assert run.frames_error is None, run.frames_error
    assert run.publish_error is None, run.publish_error
    assert run.final_status()["state"] == "ENDED", run.final_status()


async def test_a_read_dropped_mid_segment_resumes_and_loses_nothing() -> None:
    """A reader whose connection drops mid-segment reads the segment again from where it
    broke: every frame arrives once, in order, with no error anywhere, and the output
    never stalls (measured: the resume costs a few ms)."""
    async with fault_net() as net:

        async def during(run: Run) -> None:
            sid = run.stream.stream_id
            net.plan.cut(sid, seq=2, after=3000)  # the worker reading the input
            net.plan.cut(f"{sid}-out", seq=1, after=3000)  # the client reading the output

        run = await run_stream(net.client, N, during=during)
        fired = net.plan.fired
        await net.assert_healthy()

    assert sorted((f.fault.channel.endswith("-out"), f.seq, f.passed) for f in fired) == [
        (False, 2, 3000),
        (True, 1, 3000),
    ]
    assert run.numbers == list(range(N))
    assert_clean(run)
    assert run.errors() == []
    assert run.final_status()["frames"] == {
        "in": N, "out": N, "processed": N, "dropped": 0, "errors": 0,
    }  # fmt: skip
    stats = run.stats
    assert (stats["frames_received"], stats["output_errors"], stats["decode_errors"]) == (N, 0, 0)
    measure("read dropped", stall_s=stall(run), max_lag_s=max(map(run.lag, range(N))))
    assert stall(run) < 1.0  # 30 fps output: a resume must not show as a stall


@pytest.mark.parametrize("side", ["worker output", "client input"])
async def test_an_upload_dropped_mid_segment_loses_only_the_rest_of_that_gop(side: str) -> None:
    """A publisher whose upload drops mid-segment loses the rest of that segment (its
    frames cannot be decoded without the segment's keyframe), says so, and carries on
    from the next keyframe: the stream does not fail.

    - worker output (2 s GOP): the frames lost are one run inside output segment 1
      (frames 60-119); the worker names each one in ``output`` error events (all but
      the few already handed to the broken upload), and ends the stream ENDED.
    - client input (1 s GOP): the frames lost are one run inside input segment 2
      (frames 60-89); the client counts the lost segment (``input_errors``) and does
      not count the dropped frames as sent.
    Every frame after that segment arrives, in order."""
    async with fault_net() as net:

        async def during(run: Run) -> None:
            sid = run.stream.stream_id
            if side == "worker output":
                net.plan.cut(f"{sid}-out", seq=1, after=3000, method="POST")
            else:
                net.plan.cut(sid, seq=2, after=3000, method="POST")

        run = await run_stream(net.client, N, during=during)
        fired = net.plan.fired
        await net.assert_healthy()

    assert [f.passed for f in fired] == [3000]
    assert_clean(run)
    missing = run.missing(N)
    affected = range(60, 120) if side == "worker output" else segment_frames(2)
    assert missing, "the cut lost nothing: it did not hit the segment's frames"
    assert missing == list(range(missing[0], missing[-1] + 1))  # one run …
    assert missing[0] > affected[0]  # … after the segment's start …
    assert missing[-1] == affected[-1]  # … to its end
    assert [n for n in run.numbers if n is not None and n > affected[-1]] == list(
        range(affected[-1] + 1, N)
    )
    if side == "worker output":
        named = {n for e in run.errors("output") for n in e["frames"]}
        assert named <= set(missing)
        assert len(set(missing) - named) <= 3, (missing, sorted(named))  # in flight
        lost = [e for e in run.errors("output") if "output segment 1 lost" in e["message"]]
        assert len(lost) == 1, run.errors()
        assert "connection lost" in lost[0]["message"]
        frames = run.final_status()["frames"]
        assert (frames["in"], frames["out"]) == (N, N - len(named))
    else:
        assert run.stats["input_errors"] == 1
        assert N - len(missing) <= run.stats["frames_sent"] < N
    after = first_after(run, affected[-1])
    measure(f"upload dropped ({side})", lost=len(missing), stall_s=stall(run),
            lag_after_s=run.lag(after))  # fmt: skip
    assert run.lag(after) < 2.0  # the next GOP is on time again


async def test_a_delayed_segment_arrives_late_and_the_stream_catches_up() -> None:
    """A segment the network holds back for 2 s reaches the worker late but whole: every
    frame arrives, in order, with no error; the output stalls while the segment is held
    and is back to real time (lag under 1 s) from the next segment on."""
    async with fault_net() as net:

        async def during(run: Run) -> None:
            net.plan.delay(run.stream.stream_id, seq=2, seconds=2.0)

        run = await run_stream(net.client, N, during=during)
        fired = net.plan.fired
        await net.assert_healthy()

    assert [f.seq for f in fired] == [2]
    assert run.numbers == list(range(N))
    assert_clean(run)
    assert run.errors() == []
    lags = [run.lag(i) for i in range(N)]
    held = max(lags[60:90])
    caught_up = next(i for i in range(60, N) if lags[i] < 0.3 and i > lags.index(held))
    measure("segment delayed 2 s", max_lag_s=held, stall_s=stall(run),
            caught_up_at_frame=caught_up,
            recovered_s=run.arrivals[caught_up] - fired[0].at)  # fmt: skip
    assert held > 0.5  # the delay happened …
    assert max(lags[90:]) < 1.0  # … and the stream is back in real time after it


@pytest.mark.parametrize("side", ["worker input", "client output"])
async def test_a_lost_segment_is_skipped_and_reported(side: str) -> None:
    """A segment the server no longer has (470) is skipped: exactly its frames are
    missing, the reader goes on from the next segment at once, and the loss is reported
    where it happened: an ``input`` error event from the worker naming the segment, or
    the client's ``output_lost`` count. The stream ends normally."""
    async with fault_net() as net:

        async def during(run: Run) -> None:
            sid = run.stream.stream_id
            if side == "worker input":
                net.plan.lose(sid, seq=2)
            else:
                net.plan.lose(f"{sid}-out", seq=1)

        run = await run_stream(net.client, N, during=during)
        fired = net.plan.fired
        await net.assert_healthy()

    assert len(fired) == 1
    assert_clean(run)
    frames = run.final_status()["frames"]
    if side == "worker input":
        assert run.missing(N) == segment_frames(2)
        [error] = run.errors()
        assert error["error_type"] == "input"
        assert "input segment 2 lost" in error["message"]
        assert "HTTP 470" in error["message"]
        assert (frames["in"], frames["out"]) == (N - 30, N - 30)
        last_before = 59
    else:
        assert run.missing(N) == list(range(60, 120))
        assert run.errors() == []  # the worker delivered everything …
        assert (frames["in"], frames["out"]) == (N, N)
        assert run.stats["output_lost"] == 1  # … and the client counted what it lost
        last_before = 59
    after = first_after(run, last_before)
    measure(f"segment lost ({side})", stall_s=stall(run), lag_after_s=run.lag(after))
    assert run.lag(after) < 1.0


async def test_a_reader_behind_a_closing_channel_still_gets_the_last_segments() -> None:
    """Segments a publisher wrote just before deleting its channel (a worker's last
    ``status`` and ``stream_stopped`` events) stay readable for a reader that had not
    asked for them yet; after them the reader gets the end of stream (200 +
    ``Lp-Trickle-Closed``), never a 404 or a missing segment."""
    host = TrickleHost()
    async with aiohttp.ClientSession() as http:
        try:
            await host.start()
            url = f"{host.url}/events"
            async with TricklePublisher(http, url, mime="application/json") as publisher:
                for n in range(3):
                    await publisher.publish(b'{"n": %d}' % n)
            await publisher.close(delete=True)  # the channel is gone …
            assert host.server.channels() == []
            async with TrickleSubscriber(http, url, start_seq=0) as late:  # … a reader late
                bodies = [await segment.read() async for segment in late]
            assert bodies == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
            async with http.get(f"{url}/3") as response:
                assert response.status == 200
                assert response.headers["Lp-Trickle-Closed"] == "terminated"
                assert await response.read() == b""
        finally:
            await host.stop()


# -- a trickle server that restarts -------------------------------------------------------


async def _frames(feed: Feed[RGBImage], into: list[int | None]) -> None:
    while (image := await feed.get(None)) is not None:
        into.append(read_frame_number(image))


async def _read(http: aiohttp.ClientSession, url: str, feed: Feed[RGBImage], **kw: Any) -> None:
    """``read_frames`` into ``feed``, which is closed when it ends (as a stream handle does)."""
    try:
        await read_frames(http, url, feed, StreamCounts(), **kw)
    finally:
        feed.close()


async def _stream_on(
    host: TrickleHost, http: aiohttp.ClientSession, worker: WorkerServer, sid: str
) -> dict[str, Any]:
    """Create the stream's channels and start it on the worker, as an orchestrator does."""
    base = host.url
    for name, mime in (
        (sid, "video/MP2T"),
        (f"{sid}-out", "video/MP2T"),
        (f"{sid}-control", "application/json"),
        (f"{sid}-events", "application/json"),
    ):
        host.server.create_channel(name, mime)
    body = {
        "gateway_request_id": sid,
        "subscribe_url": f"{base}/{sid}",
        "publish_url": f"{base}/{sid}-out",
        "control_url": f"{base}/{sid}-control",
        "events_url": f"{base}/{sid}-events",
        "params": {},
    }
    async with http.post(
        worker.url + "/stream/start", json=body, headers={"X-Stream-Id": sid}
    ) as response:
        assert response.status == 200, await response.text()
    return body


async def test_a_trickle_server_restart_fails_the_stream_clearly_then_serves_again() -> None:
    """When the trickle server crashes and comes back on the same port without its
    channels, the stream on it fails within a few seconds, with an error naming the
    lost input channel (worker health ERROR with that reason, its session gone);
    nothing hangs. The worker then serves a new stream on the restarted server with
    every frame, and is IDLE again afterwards."""
    retry = RetryPolicy(attempts=4, delay=0.2, connect_timeout=2.0, read_timeout=5.0)
    host = TrickleHost(TrickleServerConfig())  # no autocreate, as in an orchestrator
    worker = WorkerServer(GreenTint(), WorkerConfig(capability="tint", session=SESSION))
    tasks: list[asyncio.Task[Any]] = []
    async with aiohttp.ClientSession() as http:
        try:
            await host.start()
            await worker.start(port=0)
            await worker.core.wait_initialized()

            # 1. a stream, running, when the server crashes
            body = await _stream_on(host, http, worker, "before")
            feed = Feed[RGBImage](1000, what="output frame", stream_id="before")
            counts = StreamCounts()
            got: list[int | None] = []
            source = StreamInput(http, body["subscribe_url"], retry=retry, counts=counts)
            publish = asyncio.create_task(source.publish(grey(N), fps=30, realtime=True))
            reader = asyncio.create_task(_read(http, body["publish_url"], feed, retry=retry))
            tasks += [publish, reader, asyncio.create_task(_frames(feed, got))]
            await poll(lambda: len(got) >= 30, within=10, what="30 frames before the crash")
            crashed = time.monotonic()
            await host.restart(down_for=0.5)
            assert host.restarts == 1
            assert host.server.channels() == []  # every channel is gone

            await poll(lambda: not worker.core.status()["streams"], within=15,
                       what="the worker's session to end")  # fmt: skip
            ended = time.monotonic() - crashed
            status, health = await get_json(http, worker.url + "/health")
            assert (status, health["status"]) == (200, "ERROR")
            error = worker.core.error or ""
            assert "stream before failed" in error
            assert body["subscribe_url"] in error or body["publish_url"] in error, error
            assert worker.core.counters["streams_failed"] == 1
            with pytest.raises(TrickleError, match="does not exist"):  # the publisher …
                await asyncio.wait_for(publish, 15)
            with pytest.raises(TrickleError, match="does not exist"):  # … and the reader too
                await asyncio.wait_for(reader, 15)
            assert len(got) >= 30
            assert got == list(range(len(got)))  # what came, came whole and in order
            await source.abort()

            # 2. a new stream on the restarted server
            body = await _stream_on(host, http, worker, "after")
            feed = Feed[RGBImage](1000, what="output frame", stream_id="after")
            again: list[int | None] = []
            source = StreamInput(http, body["subscribe_url"], retry=retry, counts=counts)
            reader = asyncio.create_task(_read(http, body["publish_url"], feed, retry=retry))
            collect = asyncio.create_task(_frames(feed, again))
            tasks += [reader, collect]
            await source.publish(grey(60), fps=30, realtime=True)
            await source.end()
            await asyncio.wait_for(collect, 15)
            assert again == list(range(60))
            await poll(lambda: worker.core.status()["status"] == "IDLE", within=10,
                       what="the worker to be IDLE")  # fmt: skip
            measure("trickle server restart", stream_failed_after_s=ended)
            assert ended < 10.0
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
            await worker.stop()
            await host.stop()
