"""Batch jobs through a real gateway → orchestrator → worker: submit_job and send_frame."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from byoc_lab import GatewayClient
from byoc_lab.builtins import GreenTint
from byoc_lab.client import JobError, JobResult, JobTimeoutError, jobs
from byoc_lab.errors import FrameError, ParamError, RuntimeStateError
from byoc_lab.frames import RGBImage
from byoc_lab.loader import load_processor
from byoc_lab.network import JobParameters, parse_job_header
from byoc_lab.processor import FrameProcessor

from .conftest import CAPABILITY, QUICKSTART, Stack, client_tasks

FRAME = bytes(640 * 480 * 3)
GREEN_SUM = 640 * 480 * 80  # 24,576,000


def green_sum(body: bytes) -> int:
    return int(np.frombuffer(body, dtype=np.uint8)[1::3].sum(dtype=np.int64))


class HalfHeight(FrameProcessor):
    """Returns the top half of each frame: an output of another size than the input."""

    def process(self, frame: RGBImage) -> RGBImage:
        return frame[: frame.shape[0] // 2].copy()


# -- headers, decoded by go-livepeer's rules ----------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingProxy:
    """Passes every request on to the real gateway and records what the client sent."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)

    def on(self, suffix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith(suffix)]


@pytest.fixture
async def proxy(stack: Stack) -> AsyncIterator[Callable[[str], Any]]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(target: str) -> RecordingProxy:
        record = RecordingProxy()
        http = aiohttp.ClientSession(auto_decompress=False)
        sessions.append(http)

        async def forward(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            record.seen.append(Seen(request.method, request.path, dict(request.headers), body))
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with http.request(
                request.method, target + request.path_qs, data=body, headers=headers
            ) as upstream:
                if upstream.content_type == "text/event-stream":
                    response = web.StreamResponse(status=upstream.status)
                    response.content_type = "text/event-stream"
                    await response.prepare(request)
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    return response
                data = await upstream.read()
                answer = web.Response(status=upstream.status, body=data)
                for name in ("Content-Type", "X-Orchestrator-Url", "Livepeer-Balance"):
                    if name in upstream.headers:
                        answer.headers[name] = upstream.headers[name]
                return answer

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        record.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return record

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()
        for http in sessions:
            await http.close()


async def test_the_headers_the_client_sends_pass_go_livepeers_rules(
    stack: Stack, proxy: Callable[[str], Any]
) -> None:
    await stack.start(capability="tint")
    record: RecordingProxy = await proxy(stack.url)
    async with GatewayClient(record.url, capability="tint", timeout_seconds=17) as client:
        image = np.full((480, 640, 3), 7, dtype=np.uint8)
        await client.asubmit_job(body=image.tobytes(), path="/frames/one")
        stream = await client.astart_stream(
            params={"boost": 5}, stream_id="h1", stream_name="cam", enable_data=False
        )
        await stream.aupdate_params({"boost": 9})
        await stream.astop()

    [job] = record.on("/process/request/frames/one")
    request = parse_job_header(job.headers["Livepeer"])
    assert (request.capability, request.timeout_seconds) == ("tint", 17)
    assert (request.request, request.parameters) == ("{}", "{}")
    assert (request.id, request.capability_url, request.sender, request.sig) == ("", "", "", "")
    assert request.stream_id() == ""
    assert request.job_parameters() == JobParameters()
    assert job.headers["Content-Type"] == "application/octet-stream"
    assert job.body == image.tobytes()

    [start] = record.on("/process/stream/start")
    request = parse_job_header(start.headers["Livepeer"])
    assert (request.capability, request.timeout_seconds, request.request) == ("tint", 17, "{}")
    assert (request.id, request.capability_url, request.sender, request.sig) == ("", "", "", "")
    assert request.job_parameters() == JobParameters(
        enable_video_ingress=True, enable_video_egress=True, enable_data_output=False
    )
    body = json.loads(start.body)
    assert body == {
        "stream_name": "cam",
        "params": '{"boost": 5}',  # a JSON string, as go-livepeer's StartRequest wants
        "stream_id": "h1",
        "rtmp_output": "",
    }

    [update] = record.on("/process/stream/cam-h1/update")
    request = parse_job_header(update.headers["Livepeer"])
    assert (request.capability, request.timeout_seconds) == ("tint", 17)
    assert request.stream_id() == "cam-h1"
    assert request.parameters == "{}"
    assert (request.id, request.sender, request.sig) == ("", "", "")
    assert json.loads(update.body) == {"boost": 9}
    assert update.headers["Content-Type"] == "application/json"
    assert len(record.on("/process/stream/cam-h1/stop")) == 1
    assert stack.worker is not None
    assert cast(GreenTint, stack.worker.core.runner.processor).boost == 9


# -- the quickstart's frame, sync API from a plain test -----------------------------------


def test_the_quickstart_frame_with_the_sync_api(thread_stack: Callable[..., Stack]) -> None:
    net = thread_stack(load_processor(QUICKSTART))
    before = client_tasks()
    with GatewayClient(net.url, capability=CAPABILITY) as client:
        result = client.submit_job(body=FRAME)
        assert isinstance(result, JobResult)
        assert result.status == 200
        assert len(result.body) == 921_600
        assert green_sum(result.body) == GREEN_SUM == 24_576_000
        assert result.orchestrator_url == result.headers["X-Orchestrator-Url"] == net.orch_url
        assert result.balance == "0"
        assert result.content_type == "application/octet-stream"
        assert result.elapsed_ms > 0

        black = np.zeros((480, 640, 3), dtype=np.uint8)
        out = client.send_frame(black)
        assert isinstance(out, np.ndarray)
        assert out.shape == (480, 640, 3)
        assert out.dtype == np.uint8
        assert (out[:, :, 1] == 80).all()
        assert not out[:, :, 0].any()
        assert not out[:, :, 2].any()
        out[0, 0] = 1  # the caller owns a writable array

        raw = client.send_frame(FRAME)
        assert isinstance(raw, bytes)
        assert green_sum(raw) == GREEN_SUM

        with pytest.raises(JobError) as caught:
            client.submit_job("no-such-capability", FRAME)
        assert caught.value.status == 400
        assert "No orchestrators found for capability no-such-capability" in str(caught.value)
        assert "No orchestrators found for capability no-such-capability" in caught.value.text
    assert client.closed
    with pytest.raises(RuntimeStateError, match="closed"):
        client.submit_job(body=FRAME)
    assert client_tasks() <= before


# -- send_frame: sizes and formats ----------------------------------------------------------


async def test_a_frame_of_the_wrong_size_names_both_sizes(stack: Stack) -> None:
    await stack.start(GreenTint(), frame_size=(640, 480))
    async with GatewayClient(stack.url, capability=CAPABILITY) as client:
        small = np.zeros((240, 320, 3), dtype=np.uint8)
        with pytest.raises(JobError) as caught:
            await client.asend_frame(small)
    error = caught.value
    assert error.status == 400
    assert "921,600 bytes" in str(error)
    assert "230,400 bytes" in str(error)
    assert "640x480" in str(error)


async def test_an_answer_of_another_size_is_a_clear_error_unless_sent_as_png(
    stack: Stack,
) -> None:
    await stack.start(HalfHeight(), frame_size=(64, 48))
    async with GatewayClient(stack.url, capability=CAPABILITY) as client:
        frame = np.full((48, 64, 3), 200, dtype=np.uint8)
        with pytest.raises(FrameError) as caught:
            await client.asend_frame(frame)
        message = str(caught.value)
        assert "9,216 bytes (64x48 RGB" in message
        assert "got 4,608 bytes" in message
        assert "image/png" in message
        out = await client.asend_frame(frame, content_type="image/png")
    assert isinstance(out, np.ndarray)
    assert out.shape == (24, 64, 3)
    assert (out == 200).all()


async def test_jpeg_and_paths_and_bad_arguments(stack: Stack) -> None:
    await stack.start(GreenTint(), frame_size=(64, 48))
    async with GatewayClient(stack.url) as client:
        frame = np.full((48, 64, 3), 100, dtype=np.uint8)
        out = await client.asend_frame(frame, CAPABILITY, content_type="image/jpeg", path="any/x")
        assert isinstance(out, np.ndarray)
        assert abs(float(out[:, :, 1].mean()) - 180) < 4
        with pytest.raises(ParamError, match="no capability given"):
            await client.asubmit_job(body=b"x")
        with pytest.raises(ParamError, match="first argument of submit_job"):
            await client.asubmit_job(b"x")  # type: ignore[arg-type]
        with pytest.raises(ParamError, match="not a usable capability name"):
            await client.asubmit_job("../etc", b"x")
        with pytest.raises(ParamError, match="cannot be forwarded"):
            await client.asubmit_job(CAPABILITY, b"x", path="../../admin")
        with pytest.raises(ParamError, match="timeout_seconds"):
            await client.asubmit_job(CAPABILITY, b"x", timeout_seconds=0)
        with pytest.raises(FrameError, match="RGB image"):
            await client.asend_frame(np.zeros((4, 4), dtype=np.uint8), CAPABILITY)
        with pytest.raises(ParamError, match="content type"):
            await client.asend_frame(frame, CAPABILITY, content_type="text/plain")
    with pytest.raises(ParamError, match="http"):
        GatewayClient("127.0.0.1:8935")


async def test_an_unreachable_gateway_and_a_timeout_are_typed_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with GatewayClient("http://127.0.0.1:9", capability=CAPABILITY) as client:
        with pytest.raises(JobError) as caught:
            await client.asubmit_job(body=b"")
    assert caught.value.status == 0
    assert "cannot reach http://127.0.0.1:9/process/request/" in str(caught.value)

    # The client waits timeout_seconds plus a 10 s margin for the gateway; shorten it.
    monkeypatch.setattr(jobs, "GATEWAY_MARGIN_S", 0.2)
    runner, url = await silent_server()
    try:
        async with GatewayClient(url, capability=CAPABILITY, timeout_seconds=1) as client:
            with pytest.raises(JobTimeoutError) as timed_out:
                await client.asubmit_job(body=b"")
    finally:
        await runner.cleanup()
    assert "no answer from" in str(timed_out.value)
    assert "within 1.2 s" in str(timed_out.value)
    assert isinstance(timed_out.value, TimeoutError)


async def silent_server() -> tuple[web.AppRunner, str]:
    """A server that takes requests and never answers."""

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(60)
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
