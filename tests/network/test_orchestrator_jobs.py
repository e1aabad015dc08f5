"""The orchestrator's registration, token and batch routes, against real byoc_lab workers."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from byoc_lab import FrameProcessor
from byoc_lab.errors import RegistrationError, RuntimeStateError
from byoc_lab.network import (
    Capability,
    JobSender,
    OrchestratorConfig,
    OrchestratorServer,
    build_job_header,
)
from byoc_lab.worker.registration import Registration, register, unregister

from .conftest import FRAME, GREEN_SUM, SECRET, Net


class Gate(FrameProcessor):
    """Holds every batch job until released (to keep a capacity slot busy)."""

    input_format: ClassVar[Any] = "bytes"

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, frame: bytes) -> bytes:
        self.entered.set()
        await self.release.wait()
        return frame


def job_headers(capability: str = "green-tint-cpu", **kwargs: Any) -> dict[str, str]:
    header = base64.b64decode(build_job_header(capability, **kwargs))
    signed = {**json.loads(header), "sig": "0x" + "00" * 65, "sender": "0x" + "0" * 40}
    return {
        "Livepeer": base64.b64encode(json.dumps(signed).encode()).decode(),
        "Content-Type": "application/octet-stream",
    }


def reg(orch_url: str, worker_url: str, **kwargs: Any) -> Registration:
    kwargs.setdefault("secret", SECRET)
    return Registration(orch_url=orch_url, name="green-tint-cpu", url=worker_url, **kwargs)


# -- registration -----------------------------------------------------------------------


async def test_registration_needs_the_exact_secret(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator()
    body = reg(orch.url, worker.url).body()
    for headers in ({}, {"Authorization": "wrong"}, {"Authorization": f"Bearer {SECRET}"}):
        async with net.http.post(
            orch.url + "/capability/register", json=body, headers=headers
        ) as r:
            assert r.status == 400
            assert "invalid authorization" in await r.text()
    assert orch.orchestrator.capabilities() == []
    with pytest.raises(RegistrationError, match="refused the secret"):
        await register(net.http, reg(orch.url, worker.url, secret="nope"))
    assert orch.orchestrator.capabilities() == []

    await register(net.http, reg(orch.url, worker.url))  # the worker's own helper
    [info] = orch.orchestrator.capabilities()
    assert (info.name, info.url, info.capacity, info.load) == ("green-tint-cpu", worker.url, 1, 0)
    assert (
        "capability registered (from 127.0.0.1): green-tint-cpu -> "
        in orch.orchestrator.routing.lines()[0]
    )


async def test_reregistering_replaces_and_unregistering_removes(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator()
    await register(net.http, reg(orch.url, "http://127.0.0.1:1/api"))
    await register(net.http, reg(orch.url, worker.url + "/", capacity=3))
    [info] = orch.orchestrator.capabilities()
    assert (info.url, info.capacity) == (worker.url, 3)

    with pytest.raises(RegistrationError):
        await unregister(net.http, reg(orch.url, worker.url, secret="nope"))
    assert len(orch.orchestrator.capabilities()) == 1
    await unregister(net.http, reg(orch.url, worker.url))
    assert orch.orchestrator.capabilities() == []
    assert orch.orchestrator.routing.lines()[-1] == "capability unregistered: green-tint-cpu"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (
            json.dumps({"name": "../x", "url": "http://h:1", "capacity": 1}).encode(),
            "capability name",
        ),
        (json.dumps({"name": "x", "url": "ftp://h", "capacity": 1}).encode(), "worker URL"),
        (json.dumps({"name": "x", "url": "http://u:p@h", "capacity": 1}).encode(), "worker URL"),
        (json.dumps({"name": "x", "url": "http://h:1", "capacity": 0}).encode(), "capacity"),
        (json.dumps({"name": "x", "url": "http://h:1", "capacity": "1"}).encode(), "capacity"),
        (json.dumps({"url": "http://h:1", "capacity": 1}).encode(), "capability name"),
    ],
)
async def test_bad_registrations_are_400(net: Net, body: bytes, phrase: str) -> None:
    orch = await net.orchestrator()
    headers = {"Authorization": SECRET, "Content-Type": "application/json"}
    async with net.http.post(orch.url + "/capability/register", data=body, headers=headers) as r:
        text = await r.text()
        assert r.status == 400
    assert text.startswith("Error registering capability:")
    assert phrase in text
    assert orch.orchestrator.capabilities() == []


async def test_a_generated_secret_is_written_0600_and_never_logged(
    net: Net, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="byoc_lab")
    worker = await net.quickstart_worker()
    server = OrchestratorServer(OrchestratorConfig(secret_dir=tmp_path / "rt"))
    await server.start()
    try:
        path = server.orchestrator.secret_file
        assert path is not None
        assert path.parent == tmp_path / "rt"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        secret = path.read_text().strip()
        assert secret == server.orchestrator.secret
        assert len(secret) >= 40
        await register(net.http, reg(server.url, worker.url, secret=secret))
        async with net.http.post(
            server.url + "/capability/register", headers={"Authorization": ""}
        ) as r:
            assert r.status == 400  # never open without a secret
    finally:
        await server.stop()
    assert not path.exists()
    assert str(path) in caplog.text
    assert secret not in caplog.text


def test_static_capability_specs() -> None:
    cap = Capability.from_spec("green-tint-cpu=http://127.0.0.1:8000/")
    assert (cap.name, cap.url, cap.capacity) == ("green-tint-cpu", "http://127.0.0.1:8000", 1)
    for spec in ("green-tint-cpu", "bad name=http://h:1", "x=localhost:8000"):
        with pytest.raises(RegistrationError):
            Capability.from_spec(spec)


# -- tokens -----------------------------------------------------------------------------


async def test_token_endpoint(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    sender = JobSender().encode()
    cases = [
        ({}, "Must have eth address"),
        ({"Livepeer-Eth-Address": "%%%"}, "Invalid eth address header"),
        ({"Livepeer-Eth-Address": sender}, "Job capabilities not provided"),
    ]
    for headers, phrase in cases:
        async with net.http.get(orch.url + "/process/token", headers=headers) as r:
            assert r.status == 400
            assert phrase in await r.text()
    headers = {"Livepeer-Eth-Address": sender, "Livepeer-Capability": "green-tint-cpu"}
    async with net.http.get(orch.url + "/process/token", headers=headers) as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        token = await r.json()
    assert token["available_capacity"] == 1
    assert token["service_addr"] == orch.url
    assert token["price"] == {"pixelsPerUnit": 1}  # price 0 offchain (omitted, as in Go)
    assert token["sender_address"]["sig"] == json.loads(base64.b64decode(sender))["sig"]
    headers["Livepeer-Capability"] = "unknown"
    async with net.http.get(orch.url + "/process/token", headers=headers) as r:
        assert "available_capacity" not in await r.json()


# -- batch jobs -------------------------------------------------------------------------


async def test_a_job_reaches_the_worker_and_the_routing_log_tells_the_path(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    async with net.http.post(
        orch.url + "/process/request/", data=FRAME, headers=job_headers()
    ) as r:
        body = await r.read()
        assert r.status == 200
        assert r.headers["Livepeer-Balance"] == "0"
        assert r.content_type == "application/octet-stream"
    assert len(body) == 921_600
    assert sum(body[1::3]) == GREEN_SUM
    lines = orch.orchestrator.routing.lines()
    assert lines[0].startswith("capability registered (static): green-tint-cpu -> ")
    assert lines[1] == "job received from gateway: green-tint-cpu (POST /, 921600 bytes)"
    assert lines[2] == f"forwarded to worker: POST {worker.url}"
    assert lines[3].startswith(
        "worker response received, returning to gateway: HTTP 200, 921600 bytes"
    )
    assert orch.orchestrator.capabilities()[0].load == 0


async def test_the_workers_bearer_token_is_forwarded(net: Net) -> None:
    worker = await net.worker(token="worker-token")
    orch = await net.orchestrator()
    await register(net.http, reg(orch.url, worker.url, token="worker-token"))
    async with net.http.post(
        orch.url + "/process/request/", data=FRAME, headers=job_headers()
    ) as r:
        assert r.status == 200
        assert sum((await r.read())[1::3]) == GREEN_SUM

    await register(net.http, reg(orch.url, worker.url))  # now without the token: 401
    async with net.http.post(
        orch.url + "/process/request/", data=FRAME, headers=job_headers()
    ) as r:
        assert r.status == 500
        assert "worker auth token failed" in await r.text()
    assert orch.orchestrator.capabilities() == []  # removed, as go-livepeer does


async def test_capacity_is_reserved_and_a_job_beyond_it_gets_503(net: Net) -> None:
    gate = Gate()
    worker = await net.worker(gate)
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    url = orch.url + "/process/request/"

    async def send() -> tuple[int, bytes]:
        async with net.http.post(url, data=b"abc", headers=job_headers()) as r:
            return r.status, await r.read()

    first = asyncio.create_task(send())
    await gate.entered.wait()
    assert orch.orchestrator.capabilities()[0].load == 1
    async with net.http.post(url, data=b"abc", headers=job_headers()) as r:
        assert r.status == 503
        assert "No capacity available for capability green-tint-cpu: 1 of 1" in await r.text()
    gate.release.set()
    assert await first == (200, b"abc")
    assert orch.orchestrator.capabilities()[0].load == 0


async def test_a_worker_error_comes_back_with_its_status_and_body(net: Net) -> None:
    worker = await net.worker()  # GreenTint takes 640x480 frames only
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    async with net.http.post(
        orch.url + "/process/request/", data=b"short", headers=job_headers()
    ) as r:
        assert r.status == 400
        assert r.content_type == "application/json"
        payload = await r.json()
    assert payload["status"] == "error"
    assert "does not match this worker's 640x480 frame size" in payload["message"]
    assert orch.orchestrator.capabilities()[0].load == 0


async def test_a_worker_that_is_down_loses_its_capability_and_the_job_gets_503(net: Net) -> None:
    worker = await net.worker()
    url = worker.url
    await worker.stop()
    orch = await net.orchestrator(("green-tint-cpu", url))
    async with net.http.post(
        orch.url + "/process/request/", data=FRAME, headers=job_headers()
    ) as r:
        assert r.status == 503
        text = await r.text()
    assert "removing capability" in text
    assert f"restart the worker at {url}" in text
    assert orch.orchestrator.capabilities() == []
    assert orch.orchestrator.routing.lines()[-1].startswith(
        "worker unreachable, capability removed"
    )


@pytest.mark.parametrize(
    ("headers", "status", "phrase"),
    [
        ({}, 400, "the Livepeer header is missing"),
        ({"Livepeer": "%%"}, 400, "not valid base64"),
        ({"Livepeer": build_job_header("green-tint-cpu")}, 200, ""),  # empty sig: fine offchain
        (job_headers("../admin"), 400, "not a usable capability name"),
        (job_headers(request='{"stream_id": 5}'), 400, "stream_id"),
        (job_headers("not-registered"), 503, "not registered on this orchestrator"),
    ],
)
async def test_job_headers_at_the_orchestrator(
    net: Net, headers: dict[str, str], status: int, phrase: str
) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    async with net.http.post(orch.url + "/process/request/", data=FRAME, headers=headers) as r:
        assert r.status == status
        assert phrase in await r.text()


async def test_bad_signature_and_unsafe_paths_and_big_bodies_are_refused(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url), max_body_bytes=1000)
    bad_sig = json.loads(base64.b64decode(build_job_header("green-tint-cpu")))
    bad_sig["sig"] = "0xnothex"
    headers = {"Livepeer": base64.b64encode(json.dumps(bad_sig).encode()).decode()}
    async with net.http.post(orch.url + "/process/request/", data=b"x", headers=headers) as r:
        assert r.status == 400
        assert "Could not verify job creds" in await r.text()
    for path in ("..%2F..%2Fstream%2Fstop", "%2e%2e/x", "a%00"):
        url = URL(f"{orch.url}/process/request/{path}", encoded=True)
        async with net.http.post(url, data=b"x", headers=job_headers()) as r:
            assert r.status == 400, path
            assert "cannot be forwarded to a worker" in await r.text()
    async with net.http.post(
        orch.url + "/process/request/", data=bytes(1001), headers=job_headers()
    ) as r:
        assert r.status == 413
        assert "request body too large (max 1000 bytes)" in await r.text()


@pytest.fixture
async def sse_worker() -> AsyncIterator[str]:
    """A batch worker that answers with server-sent events, as LLM-style BYOC workers do.

    byoc_lab's own worker never answers SSE, so this small aiohttp app stands in for a
    user's streaming batch worker (a real HTTP server, not a mock of any peer).
    """

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Metadata": "m1"}
        )
        await response.prepare(request)
        for chunk in (
            b'data: {"token": "a"}\n\n',
            b'data: {"token": "b"}\r\n\r\n',
            b"data: [DONE]\n\n",
        ):
            await response.write(chunk)
        return response

    app = web.Application()
    app.router.add_post("/v1/chat", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_sse_answers_are_relayed_line_by_line_with_the_balance(
    net: Net, sse_worker: str
) -> None:
    orch = await net.orchestrator(("llm", sse_worker))
    gateway = await net.gateway(orch.url)
    for base in (orch.url, gateway.url):
        async with net.http.post(
            base + "/process/request/v1/chat", data=b"{}", headers=job_headers("llm")
        ) as r:
            assert r.status == 200
            assert r.content_type == "text/event-stream"
            assert r.headers["X-Metadata"] == "m1"
            text = await r.text()
        assert text == (
            'data: {"token": "a"}\n\ndata: {"token": "b"}\n\n'
            'data: {"balance": 0.000}\n\ndata: [DONE]\n\n'
        ), base
    assert orch.orchestrator.capabilities()[0].load == 0


async def test_orchestrator_app_can_be_embedded(net: Net) -> None:
    """setup() adds everything to an existing app; the service URL then comes from Host."""
    from byoc_lab.network import Orchestrator

    orchestrator = Orchestrator(OrchestratorConfig(secret=SECRET))
    app = web.Application()
    orchestrator.setup(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        headers = {"Livepeer-Eth-Address": JobSender().encode(), "Livepeer-Capability": "x"}
        async with net.http.get(url + "/process/token", headers=headers) as r:
            assert (await r.json())["service_addr"] == url
        async with net.http.get(url + "/process/token") as r:  # errors render as text too
            assert r.status == 400
            assert r.content_type == "text/plain"
        with pytest.raises(RuntimeStateError, match="already attached"):
            orchestrator.setup(web.Application())
    finally:
        await runner.cleanup()
    with pytest.raises(aiohttp.ClientConnectionError):
        await net.http.get(url + "/process/token")
