"""The live stream's side channels: events out, control in, processor data out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from byoc_lab import GreenTint
from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.trickle import TricklePublisher
from byoc_lab.worker.session import SessionState

from .conftest import FAST, OutFrame, StreamRig, assert_tinted, events_of, make_clip


async def test_events_channel_carries_heartbeat_status_params_and_stop(rig: StreamRig) -> None:
    clip = make_clip(30)
    session = rig.session(rig.request("ev"), GreenTint())
    await session.start()
    events = asyncio.create_task(rig.read_json("ev-events"))
    output = asyncio.create_task(rig.read_output("ev"))
    await rig.wait_subscribed("ev")
    feeding = asyncio.create_task(rig.feed("ev", clip.segments, pace=0.03))
    await asyncio.sleep(0.4)
    changed = await session.update_params({"boost": 40})
    assert changed == {"boost": 40}
    await feeding
    await output
    await session.wait_ended()
    docs = await events

    assert all(set(doc) == {"event", "queue_event_type"} for doc in docs)
    kinds = [doc["event"]["type"] for doc in docs]
    assert kinds[-1] == "stream_stopped"
    assert {"receive_first_ingest_segment", "send_first_processed_segment"} <= set(kinds)
    for doc in docs:
        expected = "stream_heartbeat" if doc["event"]["type"] == "heartbeat" else "ai_stream_events"
        assert doc["queue_event_type"] == expected
        assert isinstance(doc["event"]["timestamp"], int)

    heartbeats = events_of(docs, "heartbeat")
    assert len(heartbeats) >= 2
    last = heartbeats[-1]
    assert last["urls"]["subscribe"] == rig.url("ev")
    assert set(last["urls"]) == {"subscribe", "publish", "control", "events", "data"}
    assert last["dimensions"] == {"width": 128, "height": 96}
    assert set(last["fps"]) == {
        "ingress_video_fps",
        "ingress_audio_fps",
        "egress_video_fps",
        "egress_audio_fps",
    }
    assert 10 < last["fps"]["ingress_video_fps"] < 60
    assert last["frames"]["in"] > 0

    statuses = events_of(docs, "status")
    assert statuses[0]["state"] == "RUNNING"
    assert statuses[-1]["state"] == "ENDED"
    assert statuses[-1]["frames"]["out"] == 30
    assert statuses[-1]["inference_status"]["last_params"] == {"boost": 40}
    assert statuses[-1]["request_id"] == "ev"

    (updated,) = events_of(docs, "params_updated")
    assert updated["params"] == {"boost": 40}
    (stopped,) = events_of(docs, "stream_stopped")
    assert stopped == {
        "type": "stream_stopped",
        "reason": "end of input",
        "error": None,
        "timestamp": stopped["timestamp"],
    }


async def test_control_messages_change_params_mid_stream(rig: StreamRig) -> None:
    clip = make_clip(60)
    tint = TellingTint()
    session = rig.session(rig.request("ctl"), tint)
    await session.start()
    events = asyncio.create_task(rig.read_json("ctl-events"))
    halfway = asyncio.Event()

    def seen(frame: OutFrame) -> None:
        if frame.number == 29:
            halfway.set()

    output = asyncio.create_task(rig.read_output("ctl", on_frame=seen))

    async def control(index: int) -> None:
        await halfway.wait()
        messages = [
            b'{"keep":"alive"}',
            b"this is not json",
            b"[1, 2]",
            b'{"boost": 300}',
            b'{"keep":"alive"}',
            b'{"boost": 10}',
        ]
        async with TricklePublisher(rig.http, rig.url("ctl-control"), retry=FAST) as publisher:
            for message in messages:
                await publisher.publish(message)
        await tint.updated.wait()
        assert tint.boost == 10

    await rig.wait_subscribed("ctl")
    await rig.feed("ctl", clip.segments, between=control)
    out = await output
    await session.wait_ended()
    docs = await events

    assert out.numbers == list(range(60))
    for frame in out.frames:
        assert_tinted(frame, boost=80 if frame.number is not None and frame.number < 30 else 10)
    assert session.state is SessionState.ENDED
    errors = session.stats()["errors_by_kind"]
    assert errors == {"control": 2, "params": 1}
    messages = [e["message"] for e in events_of(docs, "error")]
    assert any("not JSON" in m for m in messages)
    assert any("must be a JSON object" in m for m in messages)
    assert any("boost" in m and "out of bounds" in m for m in messages)
    (updated,) = events_of(docs, "params_updated")
    assert updated["params"] == {"boost": 10}


class TellingTint(GreenTint):
    """Sets ``updated`` once a parameter update has been applied."""

    def __init__(self) -> None:
        super().__init__()
        self.updated = asyncio.Event()

    def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        changed = super().update_params(params)
        self.updated.set()
        return changed


class Measurer(GreenTint):
    """Sends one data line per frame, plus a line too long and an object that is not JSON."""

    def process(self, frame: RGBImage) -> RGBImage:
        number = read_frame_number(frame)
        assert self.send_data({"frame": number, "mean": round(float(frame.mean()), 1)})
        if number == 5:
            assert not self.send_data("x" * 70_000)
        if number == 6:
            assert not self.send_data({"not json": {1, 2}})
        return super().process(frame)


async def test_processor_data_arrives_as_json_lines(rig: StreamRig) -> None:
    assert GreenTint().send_data({"outside": "a stream"}) is False
    clip = make_clip(30)
    session = rig.session(rig.request("dat"), Measurer())
    await session.start()
    lines = asyncio.create_task(rig.read_lines("dat-data"))
    events = asyncio.create_task(rig.read_json("dat-events"))
    output = asyncio.create_task(rig.read_output("dat"))
    await rig.wait_subscribed("dat")
    await rig.feed("dat", clip.segments, pace=0.005)
    await output
    await session.wait_ended()

    data = [json.loads(line) for line in await lines]
    assert [d["frame"] for d in data] == list(range(30))
    assert all(len(line) < 64 * 1024 for line in await lines)
    assert session.stats()["data_lines"] == 30
    assert session.stats()["errors_by_kind"] == {"data": 2}
    errors = [e for e in events_of(await events, "error") if e["error_type"] == "data"]
    assert sorted(n for e in errors for n in e["frames"]) == [5, 6]
    assert any("too long" in e["message"] for e in errors)
