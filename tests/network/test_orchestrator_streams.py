"""The orchestrator's /ai/stream/* routes, its trickle channels and its stream monitor."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from byoc_lab import GreenTint
from byoc_lab.network import Capability, JobParameters, JobRequest, StreamChannels
from byoc_lab.network.gojson import dumps
from byoc_lab.trickle import RetryPolicy, TricklePublisher, TrickleSubscriber

from .conftest import Net, RecordingWorker, poll

ALL = JobParameters(enable_video_ingress=True, enable_video_egress=True, enable_data_output=True)
FAST = RetryPolicy(attempts=3, delay=0.05, connect_timeout=2.0, read_timeout=3.0, wait_timeout=3.0)


def stream_header(
    stream_id: str, params: JobParameters = ALL, capability: str = "tint", **kwargs: Any
) -> dict[str, str]:
    job = JobRequest(
        capability=capability,
        timeout_seconds=5,
        parameters=params.to_json(),
        id=stream_id,
        request=dumps({"stream_id": stream_id}),
        **kwargs,
    ).signed()
    return {"Livepeer": job.encode(), "Content-Type": "application/json"}


async def start(net: Net, orch_url: str, stream_id: str, body: Any = None, **kw: Any) -> Any:
    payload = json.dumps(body if body is not None else {"params": {}})
    async with net.http.post(
        orch_url + "/ai/stream/start", data=payload, headers=stream_header(stream_id, **kw)
    ) as r:
        return r.status, dict(r.headers), await r.text()


async def call(net: Net, orch_url: str, verb: str, stream_id: str, body: bytes = b"") -> Any:
    async with net.http.post(
        f"{orch_url}/ai/stream/{verb}", data=body, headers=stream_header(stream_id)
    ) as r:
        return r.status, dict(r.headers), await r.text()


def names(orch: Any) -> list[str]:
    return [channel.name for channel in orch.orchestrator.trickle.channels()]


async def test_start_creates_the_channels_and_sends_go_livepeers_exact_body(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    body = {"params": {"width": 512, "height": 512}, "note": "<&>"}
    status, headers, _ = await start(net, orch.url, "abc", body)
    assert status == 200
    base = f"{orch.url}/ai/trickle/abc"
    assert headers["X-Publish-Url"] == base
    assert headers["X-Subscribe-Url"] == base + "-out"
    assert headers["X-Control-Url"] == base + "-control"
    assert headers["X-Events-Url"] == base + "-events"
    assert headers["X-Data-Url"] == base + "-data"
    assert headers["Livepeer-Balance"] == "0"
    channels = {c.name: c.mime for c in orch.orchestrator.trickle.channels()}
    assert channels == {
        "abc": "video/MP2T",
        "abc-out": "video/MP2T",
        "abc-control": "application/json",
        "abc-events": "application/json",
        "abc-data": "application/jsonl",
    }
    [call_] = recording_worker.calls
    assert call_.path == "/stream/start"
    assert call_.headers["X-Stream-Id"] == "abc"
    assert call_.headers["Content-Type"] == "application/json"
    assert "Authorization" not in call_.headers
    # Go marshals a map with sorted keys and HTML-safe escapes, compactly.
    assert call_.body.decode() == (
        f'{{"control_url":"{base}-control","data_url":"{base}-data",'
        f'"events_url":"{base}-events","gateway_request_id":"abc",'
        '"note":"\\u003c\\u0026\\u003e","params":{"height":512,"width":512},'
        f'"publish_url":"{base}-out","subscribe_url":"{base}"}}'
    )
    [info] = orch.orchestrator.streams()
    assert (info.stream_id, info.capability, info.worker_url) == (
        "abc",
        "tint",
        recording_worker.url,
    )
    assert orch.orchestrator.capabilities()[0].load == 1

    status, _, _ = await call(net, orch.url, "stop", "abc", b'{"reason": "done"}')
    assert status == 200
    stop = recording_worker.calls[-1]
    assert (stop.path, stop.headers["X-Stream-Id"], stop.body) == (
        "/stream/stop",
        "abc",
        b'{"reason": "done"}',
    )
    assert names(orch) == []
    assert orch.orchestrator.streams() == []
    assert orch.orchestrator.capabilities()[0].load == 0


async def test_only_control_and_events_without_flags(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    status, headers, _ = await start(net, orch.url, "s1", params=JobParameters())
    assert status == 200
    assert names(orch) == ["s1-control", "s1-events"]
    assert not {"X-Publish-Url", "X-Subscribe-Url", "X-Data-Url"} & set(headers)
    sent = json.loads(recording_worker.calls[0].body)
    assert set(sent) == {"control_url", "events_url", "gateway_request_id", "params"}


async def test_a_real_worker_starts_and_stops_the_stream(net: Net) -> None:
    worker = await net.worker(capability="tint")
    orch = await net.orchestrator(("tint", worker.url))
    status, _, text = await start(net, orch.url, "live1", {"params": {"width": 64, "height": 48}})
    assert status == 200, text
    async with net.http.get(worker.url + "/stream/status") as r:
        worker_status = await r.json()
    base = f"{orch.url}/ai/trickle/live1"
    assert worker_status["current_params"] == {
        "subscribe_url": base,
        "publish_url": base + "-out",
        "gateway_request_id": "live1",
    }
    assert worker_status["active_streams"] == 1
    status, _, text = await call(net, orch.url, "update", "live1", b'{"boost": 10}')
    assert status == 200, text
    assert cast(GreenTint, worker.core.runner.processor).boost == 10
    status, _, _ = await call(net, orch.url, "stop", "live1")
    assert status == 200
    assert names(orch) == []
    async with net.http.get(worker.url + "/stream/status") as r:
        assert (await r.json())["active_streams"] == 0


async def test_a_worker_that_refuses_gets_its_status_back_and_the_channels_close(
    net: Net,
) -> None:
    worker = await net.worker(capability="tint")
    orch = await net.orchestrator(("tint", worker.url))
    status, headers, text = await start(net, orch.url, "bad", {"params": {"width": 64}})
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert "width and height must be given together" in json.loads(text)["message"]
    assert names(orch) == []
    assert orch.orchestrator.streams() == []
    assert orch.orchestrator.capabilities()[0].load == 0
    assert "worker refused stream bad: HTTP 400" in orch.orchestrator.routing.lines()


async def test_a_worker_that_is_down_gets_503_and_nothing_stays_open(net: Net) -> None:
    worker = await net.worker()
    url = worker.url
    await worker.stop()
    orch = await net.orchestrator(("tint", url))
    status, _, text = await start(net, orch.url, "s")
    assert status == 503
    assert f"the worker at {url} is unreachable" in text
    assert names(orch) == []
    assert orch.orchestrator.capabilities()[0].load == 0


async def test_stream_ids_capacity_and_collisions(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    for bad in ("", "../x", "a%2Fb", "x" * 121):
        status, _, text = await start(net, orch.url, bad)
        assert status == 400, bad
        assert "id" in text
    assert (await start(net, orch.url, "a"))[0] == 200
    status, _, text = await start(net, orch.url, "a")
    assert (status, "stream already exists: a" in text) == (400, True)
    status, _, text = await start(net, orch.url, "b")
    assert status == 503
    assert "No capacity available for capability tint" in text
    assert sorted(names(orch)) == ["a", "a-control", "a-data", "a-events", "a-out"]

    orch.orchestrator.register(Capability(name="tint", url=recording_worker.url, capacity=2))
    status, _, text = await start(net, orch.url, "a-out")  # "a-out" is a's output channel
    assert status == 409
    assert "already in use by another stream" in text
    status, _, text = await call(net, orch.url, "update", "nope")
    assert status == 404


async def test_payment_is_free_offchain(net: Net, recording_worker: RecordingWorker) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    status, headers, _ = await call(net, orch.url, "payment", "any")
    assert (status, headers["Livepeer-Balance"]) == (200, "0")


async def test_a_closed_control_channel_ends_the_stream(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    assert (await start(net, orch.url, "c1"))[0] == 200
    async with net.http.delete(f"{orch.url}/ai/trickle/c1-control") as r:
        assert r.status == 200
    await poll(lambda: not orch.orchestrator.streams())
    assert recording_worker.paths() == ["/stream/start", "/stream/stop"]
    assert names(orch) == []
    assert orch.orchestrator.capabilities()[0].load == 0
    assert (
        orch.orchestrator.routing.lines()[-1] == "stream c1 ended: its control channel was closed"
    )


async def test_keepalives_go_to_the_control_channel(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url), keepalive_interval=0.2)
    assert (await start(net, orch.url, "k1"))[0] == 200
    url = f"{orch.url}/ai/trickle/k1-control"
    async with TrickleSubscriber(net.http, url, start_seq=-1, retry=FAST) as control:
        segment = await control.next_segment()
        assert segment is not None
        assert json.loads(await segment.read()) == {"keep": "alive"}


async def test_a_vanished_worker_ends_the_stream_with_an_error_event(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url), keepalive_interval=None)
    assert (await start(net, orch.url, "w1"))[0] == 200
    url = f"{orch.url}/ai/trickle/w1-events"
    async with TrickleSubscriber(net.http, url, start_seq=-1, retry=FAST) as events:
        waiting = asyncio.create_task(events.next_segment())
        await recording_worker.runner.cleanup()  # the worker process dies
        segment = await waiting
        assert segment is not None
        event = json.loads(await segment.read())
        assert event["type"] == "error"
        assert f"the worker at {recording_worker.url} is unreachable" in event["message"]
        assert await events.next_segment() is None  # then the channel closes
    assert orch.orchestrator.streams() == []
    assert orch.orchestrator.capabilities()[0].load == 0


def test_channel_names() -> None:
    assert StreamChannels("x").all() == ("x", "x-out", "x-control", "x-events", "x-data")


@pytest.mark.parametrize("verb", ["update", "stop"])
async def test_update_and_stop_need_a_valid_header(
    net: Net, recording_worker: RecordingWorker, verb: str
) -> None:
    orch = await net.orchestrator(("tint", recording_worker.url))
    async with net.http.post(f"{orch.url}/ai/stream/{verb}", data=b"{}") as r:
        assert r.status == 400
        assert "the Livepeer header is missing" in await r.text()


async def test_keepalives_leave_a_client_publishing_on_control_alone(
    net: Net, recording_worker: RecordingWorker
) -> None:
    orch = await net.orchestrator(
        ("tint", recording_worker.url), keepalive_interval=0.05, monitor_interval=0.05
    )
    assert (await start(net, orch.url, "p1"))[0] == 200
    url = f"{orch.url}/ai/trickle/p1-control"
    async with TricklePublisher(net.http, url, mime="application/json", retry=FAST) as control:
        for n in range(6):  # each publish would fail if a keepalive took its segment
            assert await control.publish(json.dumps({"n": n}).encode()) >= n
            await asyncio.sleep(0.06)
