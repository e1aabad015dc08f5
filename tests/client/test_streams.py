"""Live streams through a real gateway → orchestrator → worker with GatewayClient."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from byoc_lab import GatewayClient
from byoc_lab.builtins import GreenTint
from byoc_lab.client import JobTimeoutError, StreamHandle
from byoc_lab.errors import FrameError, NotAvailableError, RuntimeStateError
from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.worker.request import SessionConfig

from .conftest import (
    Stack,
    aclient_tasks,
    assert_green,
    client_tasks,
    grey,
    means,
    numbers,
)


class CountingTint(GreenTint):
    """Tints, and emits each frame's number on the stream's data channel."""

    def process(self, frame: RGBImage) -> RGBImage:
        self.send_data({"frame": read_frame_number(frame)})
        return super().process(frame)


async def poll(check: Callable[[], Any], within: float = 5.0) -> Any:
    for _ in range(int(within / 0.02)):
        if result := check():
            return result
        await asyncio.sleep(0.02)
    pytest.fail(f"condition not met within {within} s")


async def test_every_frame_comes_back_in_order_and_updates_and_data_arrive(stack: Stack) -> None:
    await stack.start(CountingTint(), capability="tint")
    before = await aclient_tasks()
    async with GatewayClient(stack.url, capability="tint") as client:
        stream = await client.astart_stream(params={"boost": 80})
        lines: list[str] = []

        async def read_data() -> None:
            async for line in stream.adata(timeout=None):
                lines.append(line)

        data_reader = asyncio.create_task(read_data())
        await stream.apublish(grey(90), fps=60)  # realtime: 1.5 s of input
        frames: list[RGBImage] = []
        async for image in stream.aframes(timeout=5):
            frames.append(image)
            if len(frames) == 30:
                result = await stream.aupdate_params({"boost": 20})
                assert result.status == 200
        assert await stream.await_published(5) == 90
        await asyncio.wait_for(data_reader, 5)  # the data SSE ends with the stream
        stats = stream.stats()
        await stream.astop()
        await stream.astop()  # idempotent
        assert stream.stopped

    assert numbers(frames) == list(range(90))  # every frame, in order
    assert (stats["frames_sent"], stats["frames_received"], stats["frames_dropped"]) == (90, 90, 0)
    assert stats["decode_errors"] == stats["output_errors"] == 0
    boosts = [round(means(image)[1]) - 100 for image in frames]
    switch = next(i for i, boost in enumerate(boosts) if boost < 50)
    assert 30 <= switch <= 75, boosts  # frames sent after the update show it
    for image in frames[:switch]:
        assert_green(image, boost=80)
    for image in frames[switch:]:
        assert_green(image, boost=20)

    assert [json.loads(line) for line in lines] == [{"frame": n} for n in range(90)]
    assert (stats["data_lines"], stats["data_dropped"]) == (90, 0)
    assert await aclient_tasks() <= before  # stop() left no task of the handle running


def test_the_sync_api_from_a_plain_test(thread_stack: Callable[..., Stack]) -> None:
    net = thread_stack(GreenTint())
    before = client_tasks()
    with GatewayClient(net.url, capability="green-tint-cpu") as client:
        with client.start_stream(enable_data=False) as stream:
            assert isinstance(stream, StreamHandle)
            assert stream.publish(grey(30)) is stream
            frames = list(stream.frames(timeout=5))
            assert stream.wait_published(5) == 30
            status = stream.status()
            assert status["orchestrator"] == net.orch_url
            with pytest.raises(NotAvailableError, match="enable_data=True"):
                stream.data()
        assert stream.stopped
        assert numbers(frames) == list(range(30))
        for image in frames:
            assert image.shape == (96, 128, 3)
            assert_green(image)

        stream = client.start_stream(stream_name="sync")
        assert stream.stream_id.startswith("sync-")
        source = grey(5)
        for frame in source:
            stream.send(frame.image)
        stream.end_input()
        frames = list(stream.frames(timeout=5))
        assert numbers(frames) == list(range(5))
        with pytest.raises(RuntimeStateError, match="input of stream"):
            stream.publish(grey(1))
        stream.stop()
        stream.stop()
        with pytest.raises(RuntimeStateError, match="is stopped"):
            stream.send(frames[0])
    assert client_tasks() <= before


async def test_a_go_livepeer_answer_without_trickle_urls(stack: Stack) -> None:
    await stack.start(CountingTint(), capability="tint")
    async with GatewayClient(stack.url, capability="tint") as client:
        stream = await client.astart_stream(stream_id="gl1")
        answer = {k: v for k, v in stream.urls.items() if not k.startswith("trickle_")}
        answer["whip_url"] = "https://gateway:8935/process/stream/gl1/whip"
        go = client.attach_stream(answer)
        assert go.stream_id == "gl1"
        for call in (lambda: go.publish(grey(1)), lambda: go.frames(), lambda: go.aframes()):
            with pytest.raises(NotAvailableError) as caught:
                call()
            message = str(caught.value)
            assert "no trickle_" in message
            assert "WHIP or RTMP" in message
            assert "https://gateway:8935/process/stream/gl1/whip" in message
            assert "LocalNetwork" in message
        with pytest.raises(NotAvailableError, match="no trickle_publish_url"):
            await go.asend(np.zeros((96, 128, 3), dtype=np.uint8))
        with pytest.raises(NotAvailableError, match="status"):
            go.aevents()

        # Input still goes in through the full handle (go-livepeer: WHIP or RTMP).
        lines: list[str] = []

        async def read_data() -> None:
            async for line in go.adata(timeout=None):
                lines.append(line)

        data_reader = asyncio.create_task(read_data())
        await stream.apublish(grey(60), fps=60, end_input=False)
        status = await go.astatus()
        assert status["orchestrator"] == stack.orch_url
        assert (await go.aupdate_params({"boost": 0})).status == 200
        await stream.await_published(5)
        await poll(lambda: len(lines) > 0)
        await go.astop()  # stops the stream at the gateway; the data SSE ends
        await asyncio.wait_for(data_reader, 5)
        await stream.astop()  # already stopped there: not an error
    assert all(json.loads(line)["frame"] in range(60) for line in lines)
    assert stack.gateway is not None
    assert stack.gateway.gateway.streams() == []


async def test_a_reader_that_falls_behind_loses_the_oldest_frames(stack: Stack) -> None:
    await stack.start(GreenTint(), capability="tint")
    async with GatewayClient(stack.url, capability="tint") as client:
        stream = await client.astart_stream(max_queued_frames=8)
        with pytest.raises(JobTimeoutError, match="no output frame from stream"):
            async for _ in stream.aframes(timeout=0.3):
                pass
        event = await anext(stream.aevents(timeout=5))
        assert event["type"] in {"status", "heartbeat", "stream_started"}, event
        await stream.apublish(grey(40), realtime=False)
        assert await stream.await_published(5) == 40
        await poll(lambda: stream.stats()["frames_received"] == 40)
        frames = [image async for image in stream.aframes(timeout=5)]
        stats = stream.stats()
        await stream.astop()
    assert numbers(frames) == list(range(32, 40))  # the newest 8
    assert (stats["frames_dropped"], stats["frame_queue"]) == (32, 8)


async def test_publish_errors_are_kept_for_await_published(stack: Stack) -> None:
    await stack.start(GreenTint(), capability="tint")
    async with GatewayClient(stack.url, capability="tint") as client:
        stream = await client.astart_stream(enable_data=False)
        good = grey(1).render(0)
        await stream.apublish([good, np.zeros((4, 4), dtype=np.uint8)], end_input=False)
        with pytest.raises(FrameError, match="not an RGB image"):
            await stream.await_published(5)
        assert "FrameError" in stream.stats()["publish_error"]
        await stream.apublish([good, good], realtime=False, end_input=False)
        with pytest.raises(RuntimeStateError, match="is publishing"):
            await stream.apublish([good])
        assert await stream.await_published(5) == 3
        frames = []
        async for image in stream.aframes(timeout=5):
            frames.append(image)
            if len(frames) == 3:
                break
        await stream.astop()
    assert numbers(frames) == [0, 0, 0]


async def test_silence_after_the_input_ended_ends_the_frames(stack: Stack) -> None:
    # Like pytrickle 0.1.6, this worker does not close its output when the input ends.
    await stack.start(GreenTint(), capability="tint", session=SessionConfig(close_channels=False))
    async with GatewayClient(stack.url, capability="tint") as client:
        stream = await client.astart_stream(enable_data=False)
        await stream.apublish(grey(10), realtime=False)
        frames = [image async for image in stream.aframes(timeout=0.5)]
        await stream.astop()
    assert numbers(frames) == list(range(10))
