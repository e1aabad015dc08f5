"""Streams through gateway → orchestrator → worker: StreamUrls, status, data, stop.

The last test sends frames through: MPEG-TS published to ``trickle_publish_url`` comes
back green from ``trickle_subscribe_url``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import numpy as np
from yarl import URL

from byoc_lab import GreenTint
from byoc_lab.media import DecodedVideoFrame, decode_segments, encode_clip
from byoc_lab.network import JobParameters, build_job_header
from byoc_lab.trickle import RetryPolicy, TricklePublisher, TrickleSubscriber

from .conftest import Net, RecordingWorker, poll

ALL = JobParameters(enable_video_ingress=True, enable_video_egress=True, enable_data_output=True)
FAST = RetryPolicy(attempts=3, delay=0.05, connect_timeout=2.0, read_timeout=3.0, wait_timeout=3.0)


def header(params: JobParameters = ALL, capability: str = "tint", **kwargs: Any) -> dict[str, str]:
    return {"Livepeer": build_job_header(capability, parameters=params, **kwargs)}


async def start(
    net: Net, gateway_url: str, body: dict[str, Any], params: JobParameters = ALL
) -> tuple[int, Any]:
    async with net.http.post(
        gateway_url + "/process/stream/start", data=json.dumps(body), headers=header(params)
    ) as r:
        text = await r.text()
        return r.status, (json.loads(text) if r.content_type == "application/json" else text)


async def get_status(net: Net, gateway_url: str, stream_id: str) -> tuple[int, Any]:
    async with net.http.get(f"{gateway_url}/process/stream/{stream_id}/status") as r:
        text = await r.text()
        return r.status, (json.loads(text) if r.status == 200 else text)


async def test_a_stream_starts_with_stream_urls_and_trickle_urls_then_stops(net: Net) -> None:
    worker = await net.worker(capability="tint")
    orch = await net.orchestrator(("tint", worker.url))
    gateway = await net.gateway(orch.url)
    body = {
        "stream_name": "cam",
        "stream_id": "x1",
        "params": json.dumps({"width": 64, "height": 48}),
    }
    status, urls = await start(net, gateway.url, body)
    assert status == 200, urls
    base = f"{gateway.url}/process/stream/cam-x1"
    trickle = f"{orch.url}/ai/trickle/cam-x1"
    assert urls == {
        "stream_id": "cam-x1",
        "whip_url": "",
        "whep_url": "",
        "rtmp_url": "",
        "rtmp_output_url": "",
        "update_url": base + "/update",
        "status_url": base + "/status",
        "data_url": base + "/data",
        "stop_url": base + "/stop",
        "trickle_publish_url": trickle,
        "trickle_subscribe_url": trickle + "-out",
        "trickle_control_url": trickle + "-control",
        "trickle_events_url": trickle + "-events",
        "trickle_data_url": trickle + "-data",
        "orchestrator_url": orch.url,
    }
    async with net.http.get(worker.url + "/stream/status") as r:
        assert (await r.json())["current_params"]["subscribe_url"] == trickle
    [view] = gateway.gateway.streams()
    assert (view.stream_id, view.orchestrator) == ("cam-x1", orch.url)

    async def worker_status() -> Any:
        code, state = await get_status(net, gateway.url, "cam-x1")
        return state if code == 200 and state.get("type") == "status" else None

    state = await poll(worker_status)  # the worker's first status event, at once
    assert state["orchestrator"] == orch.url  # kept across status events
    assert state["stream_id"] == "cam-x1"
    assert state["orchestrator_info"] == {"address": "", "url": orch.url}
    assert state["inference_status"]["last_params"] == {"width": 64, "height": 48}

    update = header(stream_id="cam-x1")
    async with net.http.post(base + "/update", data=b'{"boost": 7}', headers=update) as r:
        assert r.status == 200, await r.text()
    assert cast(GreenTint, worker.core.runner.processor).boost == 7

    async with net.http.post(base + "/stop") as r:
        assert r.status == 200
        assert (await r.json())["message"] == "Stream stopped successfully"
    assert gateway.gateway.streams() == []
    assert orch.orchestrator.trickle.channels() == []
    assert orch.orchestrator.capabilities()[0].load == 0
    code, state = await get_status(net, gateway.url, "cam-x1")
    assert code == 200
    assert "error" not in state
    async with net.http.post(base + "/stop") as r:
        assert (r.status, await r.text()) == (404, "Stream not found\n")


async def test_data_lines_become_sse_events(net: Net, recording_worker: RecordingWorker) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    gateway = await net.gateway(orch.url)
    status, urls = await start(net, gateway.url, {"stream_id": "d1"})
    assert status == 200
    async with net.http.get(urls["data_url"]) as sse:
        assert sse.content_type == "text/event-stream"
        # What a worker writes to its data channel: JSONL, one segment may hold many lines.
        async with TricklePublisher(net.http, urls["trickle_data_url"], retry=FAST) as data:
            await data.publish(b'{"n": 1}\n{"n": 2}\r\n' + b"x" * 70_000 + b"\n")
            await data.publish(b"last line without newline")
        seen = b""
        while b"last line" not in seen:
            seen += await sse.content.readany()
        async with net.http.post(urls["stop_url"]) as r:
            assert r.status == 200
        seen += await sse.read()  # the stream's end closes the SSE answer
    assert seen == (
        b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: last line without newline\n\n'
        b'event: end\ndata: {"type":"stream_ended"}\n\n'
    )


async def test_events_set_the_status_and_errors(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    gateway = await net.gateway(orch.url)
    status, urls = await start(net, gateway.url, {"stream_id": "e1"}, JobParameters())
    assert status == 200
    assert urls["data_url"] == urls["trickle_data_url"] == urls["trickle_publish_url"] == ""
    async with net.http.get(f"{gateway.url}/process/stream/e1/data") as r:
        assert r.status == 503
        assert "Stream data not available" in await r.text()
    code, state = await get_status(net, gateway.url, "e1")
    assert (code, state) == (200, {"whep_url": "", "orchestrator": orch.url})
    async with TricklePublisher(net.http, urls["trickle_events_url"], retry=FAST) as events:
        await events.publish(
            b'{"queue_event_type": "stream_heartbeat", "event": {"type": "heartbeat"}}'
        )
        await events.publish(
            b'{"queue_event_type": "ai_stream_status", "event": {"type": "status", "state": "OK"}}'
        )
        await events.publish(b'{"type": "error", "message": "boom"}')

        async def errored() -> Any:
            _, current = await get_status(net, gateway.url, "e1")
            return current if "error" in current else None

        state = await poll(errored)
    assert state["type"] == "status"
    assert state["state"] == "OK"
    assert state["orchestrator"] == orch.url
    assert state["error"]["error_message"] == "boom"


async def test_a_worker_that_is_down_gives_503_and_the_status_says_why(net: Net) -> None:
    worker = await net.worker()
    url = worker.url
    await worker.stop()
    orch = await net.orchestrator(("tint", url))
    gateway = await net.gateway(orch.url)
    status, text = await start(net, gateway.url, {"stream_id": "down"})
    assert status == 503
    assert text.startswith(f"All orchestrators failed to start the stream: {orch.url}: HTTP 503")
    code, state = await get_status(net, gateway.url, "down")
    assert code == 200
    assert f"the worker at {url} is unreachable" in state["error"]["error_message"]
    assert orch.orchestrator.trickle.channels() == []


async def test_a_worker_refusal_comes_back_and_is_in_the_status(net: Net) -> None:
    worker = await net.worker(capability="tint")
    orch = await net.orchestrator(("tint", worker.url))
    gateway = await net.gateway(orch.url)
    status, payload = await start(net, gateway.url, {"stream_id": "r1", "params": '{"width": 9}'})
    assert status == 400
    assert "width and height must be given together" in payload["message"]
    _, state = await get_status(net, gateway.url, "r1")
    assert "refused the stream" in state["error"]["error_message"]


async def test_a_worker_vanishing_mid_stream_ends_it_with_the_error(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url), keepalive_interval=None)
    gateway = await net.gateway(orch.url)
    assert (await start(net, gateway.url, {"stream_id": "v1"}))[0] == 200
    await recording_worker.runner.cleanup()

    async def ended() -> Any:
        _, state = await get_status(net, gateway.url, "v1")
        return state if "error" in state and not gateway.gateway.streams() else None

    state = await poll(ended)
    assert "is unreachable; stream stopped" in state["error"]["error_message"]
    assert orch.orchestrator.streams() == []


async def test_the_events_watchdog_stops_a_silent_stream(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    gateway = await net.gateway(orch.url, events_timeout=0.3)
    assert (await start(net, gateway.url, {"stream_id": "quiet"}))[0] == 200

    async def stopped() -> Any:
        _, state = await get_status(net, gateway.url, "quiet")
        return state if "error" in state and not orch.orchestrator.streams() else None

    state = await poll(stopped)
    assert state["error"]["error_message"].startswith("no event from the worker within 0.3 s")
    assert recording_worker.paths() == ["/stream/start", "/stream/stop"]


async def test_start_request_rules(net: Net, recording_worker: RecordingWorker) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    gateway = await net.gateway(orch.url)
    cases: list[tuple[Any, str]] = [
        ({"stream_name": "cam-out"}, "stream_name must not end in -out"),
        ({"params": "{not json"}, "invalid model params"),
        ({"params": "[1]"}, "invalid model params"),
        ({"params": {"width": 1}}, "params in the StartRequest body has the wrong type"),
        ({"stream_id": "../etc"}, "stream_id is not a usable stream id"),
        ({"stream_name": "a" * 120, "stream_id": "b"}, "stream_id is not a usable stream id"),
        ([], "must be a JSON object"),
    ]
    for body, phrase in cases:
        status, text = await start(net, gateway.url, body)
        assert status == 400, body
        assert phrase in text, body
    async with net.http.post(gateway.url + "/process/stream/start", data=b"") as r:
        assert r.status == 400  # the Livepeer header comes first
    status, urls = await start(net, gateway.url, {})
    assert status == 200
    assert len(urls["stream_id"]) == 8
    assert int(urls["stream_id"], 16) >= 0
    assert json.loads(recording_worker.calls[0].body)["params"] is None  # go: {"params": null}
    assert (await start(net, gateway.url, {"stream_id": urls["stream_id"]}))[0] == 400


async def test_unknown_or_unsafe_stream_ids_in_paths(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("tint", worker.url))
    gateway = await net.gateway(orch.url)
    for verb, method in (("status", "GET"), ("data", "GET"), ("stop", "POST"), ("update", "POST")):
        async with net.http.request(method, f"{gateway.url}/process/stream/nope/{verb}") as r:
            assert (r.status, await r.text()) == (404, "Stream not found\n"), verb
        url = URL(f"{gateway.url}/process/stream/..%2Fetc/{verb}", encoded=True)
        async with net.http.request(method, url) as r:
            assert r.status == 400, verb
            assert "stream_id is not a usable stream id" in await r.text()


async def test_update_must_address_the_streams_capability(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    gateway = await net.gateway(orch.url)
    status, urls = await start(net, gateway.url, {"stream_id": "u1"})
    assert status == 200
    for headers, phrase in (
        ({}, "the Livepeer header is missing"),
        (header(capability="other"), "another capability"),
        (header(stream_id="u2"), "names another stream"),
    ):
        async with net.http.post(urls["update_url"], data=b"{}", headers=headers) as r:
            assert r.status == 400
            assert phrase in await r.text()
    async with net.http.post(urls["update_url"], data=b'{"a": 1}', headers=header()) as r:
        assert r.status == 200
    params = recording_worker.calls[-1]
    assert (params.path, params.headers["X-Stream-Id"], params.body) == (
        "/stream/params",
        "u1",
        b'{"a": 1}',
    )


async def test_frames_go_through_the_orchestrators_channels(net: Net) -> None:
    """Input published to trickle_publish_url comes back green from trickle_subscribe_url."""
    worker = await net.worker(capability="tint")
    orch = await net.orchestrator(("tint", worker.url))
    gateway = await net.gateway(orch.url)
    status, urls = await start(net, gateway.url, {"stream_id": "f1"}, ALL)
    assert status == 200
    frames = [np.full((48, 64, 3), 100, dtype=np.uint8) for _ in range(10)]
    segments = await asyncio.to_thread(encode_clip, frames, 30.0)
    output: list[bytes] = []

    async def read_output() -> None:
        async with TrickleSubscriber(
            net.http, urls["trickle_subscribe_url"], start_seq=0, retry=FAST
        ) as out:
            async for segment in out:
                output.append(await segment.read())

    reader = asyncio.create_task(read_output())
    async with TricklePublisher(net.http, urls["trickle_publish_url"], retry=FAST) as pub:
        for segment in segments:
            await pub.publish(segment)
        await pub.close(delete=True)  # end of input: the worker drains and ends its output
    await asyncio.wait_for(reader, 10)
    decoded = [item for item in decode_segments(output) if isinstance(item, DecodedVideoFrame)]
    assert len(decoded) == 10
    for frame in decoded:
        r, g, b = (float(frame.image[:, :, c].mean()) for c in range(3))
        assert abs(g - 180) < 4, (r, g, b)
        assert abs(r - 100) < 4
        assert abs(b - 100) < 4
