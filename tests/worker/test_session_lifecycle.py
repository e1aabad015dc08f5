"""A live stream's life: start, stop, failures, hot-swap; nothing left running after."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from byoc_lab import GreenTint, Passthrough
from byoc_lab.errors import ParamError, RuntimeStateError
from byoc_lab.runner import ProcessorRunner
from byoc_lab.worker.session import SessionState, StreamRequest, StreamSession

from .conftest import (
    StreamRig,
    assert_tinted,
    assert_untinted,
    events_of,
    frames_seen,
    make_clip,
    session_tasks,
)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def no_codec_threads() -> bool:
    for _ in range(100):
        names = [t.name for t in threading.enumerate()]
        if not any(n.startswith(("byoc-decode", "byoc-encode")) for n in names):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_unreachable_input_fails_the_stream_with_an_error_event(rig: StreamRig) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/nowhere"
    base = rig.request("dead")
    request = StreamRequest(
        request_id="dead",
        subscribe_url=dead,
        publish_url=base.publish_url,
        events_url=base.events_url,
    )
    ended: list[StreamSession] = []
    session = rig.session(request, GreenTint(), on_end=ended.append)
    events = asyncio.create_task(rig.read_json("dead-events"))
    await session.start()
    await session.wait_ended()

    assert session.state is SessionState.FAILED
    assert session.error is not None
    assert "cannot read the input channel" in session.error
    assert dead in session.error
    assert ended == [session]
    assert session_tasks(session) == []
    assert await no_codec_threads()
    docs = await events
    (error,) = [e for e in events_of(docs, "error") if e["error_type"] == "stream"]
    assert error["message"] == session.error
    (stopped,) = events_of(docs, "stream_stopped")
    assert stopped["reason"] == "error"
    assert stopped["error"] == session.error
    assert events_of(docs, "status")[-1]["state"] == "FAILED"


async def test_output_that_cannot_be_published_fails_the_stream(rig: StreamRig) -> None:
    base = rig.request("nopub")
    request = StreamRequest(
        request_id="nopub",
        subscribe_url=base.subscribe_url,
        publish_url=f"http://127.0.0.1:{closed_port()}/nopub-out",
    )
    session = rig.session(request, GreenTint())
    await session.start()
    await rig.wait_subscribed("nopub")
    feeding = asyncio.create_task(rig.feed("nopub", make_clip(30).segments, pace=0.01))
    await session.wait_ended()
    feeding.cancel()
    await asyncio.gather(feeding, return_exceptions=True)
    assert session.state is SessionState.FAILED
    assert session.error is not None
    assert "cannot publish to the output channel" in session.error
    assert session_tasks(session) == []


async def test_stop_mid_stream_ends_everything(rig: StreamRig) -> None:
    clip = make_clip(90, gop=30)
    session = rig.session(rig.request("stop"), GreenTint())
    await session.start()
    events = asyncio.create_task(rig.read_json("stop-events"))
    ten, on_frame = frames_seen(10)
    output = asyncio.create_task(rig.read_output("stop", on_frame=on_frame))
    await rig.wait_subscribed("stop")
    feeding = asyncio.create_task(rig.feed("stop", clip.segments, pace=0.01, close=False))
    await ten.wait()
    await session.stop("stopped by request")
    await session.stop("again")  # idempotent

    assert session.state is SessionState.ENDED
    assert session.error is None
    assert session_tasks(session) == []
    assert await no_codec_threads()
    out = await output  # the output channel was closed: its reader saw the end
    assert 10 <= len(out.frames) < 90
    assert out.numbers == list(range(len(out.frames)))
    (stopped,) = events_of(await events, "stream_stopped")
    assert stopped["reason"] == "stopped by request"
    with pytest.raises(RuntimeStateError, match="is ENDED"):
        await session.update_params({"boost": 1})
    feeding.cancel()
    await asyncio.gather(feeding, return_exceptions=True)


async def test_bad_initial_params_refuse_to_start(rig: StreamRig) -> None:
    ended: list[StreamSession] = []
    for params in ({"width": 64}, {"max_framerate": 0}, {"boost": 999}, {"nope": 1}):
        session = rig.session(rig.request("bad", params=params), GreenTint(), on_end=ended.append)
        with pytest.raises(ParamError):
            await session.start()
        assert session.state is SessionState.FAILED
        assert session.error is not None
        assert "invalid stream parameters" in session.error
        assert session_tasks(session) == []
    assert ended == []


async def test_params_update_rejected_keeps_the_old_values(rig: StreamRig) -> None:
    tint = GreenTint()
    session = rig.session(rig.request("upd", params={"boost": 20, "width": 64, "height": 64}), tint)
    await session.start()
    assert tint.boost == 20
    with pytest.raises(ParamError):
        await session.update_params({"boost": 30, "height": 32})  # height alone: all refused
    assert tint.boost == 20
    assert await session.update_params({"boost": 30, "max_framerate": 10}) == {
        "boost": 30,
        "max_framerate": 10,
    }
    assert await session.update_params({"detect_out_resolution": True}) == {}
    assert session.stats()["errors_by_kind"] == {"params": 1}
    await session.stop()
    assert session.state is SessionState.ENDED


async def test_hot_swapped_processor_takes_the_next_frame(rig: StreamRig) -> None:
    clip = make_clip(60)
    runners = {"now": ProcessorRunner(GreenTint())}
    session = rig.session(rig.request("swap"), lambda: runners["now"])
    await session.start()
    thirty, on_frame = frames_seen(30)
    output = asyncio.create_task(rig.read_output("swap", on_frame=on_frame))

    async def swap(index: int) -> None:
        await thirty.wait()
        runners["now"] = ProcessorRunner(Passthrough())

    await rig.wait_subscribed("swap")
    await rig.feed("swap", clip.segments, between=swap)
    out = await output
    assert out.numbers == list(range(60))
    for frame in out.frames:
        assert frame.number is not None
        (assert_tinted if frame.number < 30 else assert_untinted)(frame)


async def test_stream_without_media_runs_its_channels_until_stopped(rig: StreamRig) -> None:
    base = rig.request("bare")
    request = StreamRequest(request_id="bare", events_url=base.events_url)
    session = rig.session(request, GreenTint())
    events = asyncio.create_task(rig.read_json("bare-events"))
    await session.start()
    await asyncio.sleep(0.7)
    await session.stop()
    docs = await events
    assert len(events_of(docs, "heartbeat")) >= 2
    assert events_of(docs, "stream_stopped")[0]["reason"] == "stopped"
    assert session_tasks(session) == []


async def test_stop_before_start_and_start_twice(rig: StreamRig) -> None:
    idle = rig.session(rig.request("idle"), GreenTint())
    await idle.stop()
    assert idle.state is SessionState.ENDED
    with pytest.raises(RuntimeStateError, match="cannot start"):
        await idle.start()
    session = rig.session(rig.request("twice"), GreenTint())
    async with session:
        with pytest.raises(RuntimeStateError, match="is RUNNING"):
            await session.start()
    assert session.state is SessionState.ENDED
    assert session_tasks(session) == []
