"""Batch jobs through gateway → orchestrator → worker, all real, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from byoc_lab import FrameProcessor, GreenTint
from byoc_lab.errors import ParamError
from byoc_lab.network import (
    GatewayConfig,
    GatewayServer,
    JobParameters,
    OrchestratorFilter,
    build_job_header,
)

from .conftest import FRAME, GREEN_SUM, Net

RAW = {"Content-Type": "application/octet-stream"}

# The seed quickstart's client, verbatim (reference/seed-quickstart.md, "Send a BYOC job").
SEND_JOB_PY = (
    Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "send_job.py"
).read_text()


class Boom(FrameProcessor):
    """A worker whose process() fails: the worker answers 500."""

    input_format: ClassVar[Any] = "bytes"

    def process(self, frame: bytes) -> bytes:
        raise RuntimeError("boom")


def job(capability: str = "green-tint-cpu", **kwargs: Any) -> dict[str, str]:
    return {"Livepeer": build_job_header(capability, **kwargs), **RAW}


async def post(net: Net, url: str, headers: dict[str, str], body: bytes = FRAME) -> Any:
    async with net.http.post(url, data=body, headers=headers) as r:
        return r.status, r.headers, await r.read()


async def test_a_batch_job_goes_end_to_end(net: Net) -> None:
    worker, orch, gateway = await net.chain()
    status, headers, body = await post(net, gateway.url + "/process/request/", job())
    assert status == 200
    assert len(body) == 921_600
    assert sum(body[1::3]) == GREEN_SUM
    assert headers["X-Orchestrator-Url"] == orch.url
    assert headers["Livepeer-Balance"] == "0"
    assert headers["Content-Type"] == "application/octet-stream"
    assert "X-Metadata" not in headers
    lines = gateway.gateway.routing.lines()
    assert (
        lines[0]
        == "job received from client: green-tint-cpu (POST /process/request/, 921600 bytes)"
    )
    assert lines[1] == f"forwarded to orchestrator: POST {orch.url}/process/request/"
    assert lines[2].startswith(
        f"response returned to client: HTTP 200, 921600 bytes from {orch.url}"
    )
    assert orch.orchestrator.routing.lines()[1:3] == [
        "job received from gateway: green-tint-cpu (POST /, 921600 bytes)",
        f"forwarded to worker: POST {worker.url}",
    ]


async def test_the_quickstart_route_runs_a_batch_job(net: Net) -> None:
    _, orch, gateway = await net.chain()
    headers = {**RAW, "X-Model-Id": "green-tint-cpu"}
    status, answer, body = await post(net, gateway.url + "/live/video-to-video", headers)
    assert (status, len(body), sum(body[1::3])) == (200, 921_600, GREEN_SUM)
    assert answer["X-Orchestrator-Url"] == orch.url
    assert gateway.gateway.routing.lines()[0] == (
        "job received from client: green-tint-cpu "
        "(POST /live/video-to-video as /process/request/, 921600 bytes)"
    )
    for bad, phrase in (({}, "X-Model-Id header missing"), ({"X-Model-Id": "../x"}, "X-Model-Id")):
        status, _, text = await post(net, gateway.url + "/live/video-to-video", {**RAW, **bad})
        assert status == 400
        assert phrase in text.decode()


async def test_the_quickstarts_send_job_py_runs_unchanged(net: Net, tmp_path: Path) -> None:
    """The quickstart's client, as a subprocess, against gateway → orchestrator → worker.

    It hard-codes http://localhost:8935. When that port is free the gateway takes it and
    the script runs byte for byte as published; otherwise it runs from a copy in which
    only the GATEWAY_URL constant points at the gateway's ephemeral port.
    """
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    script = tmp_path / "send_job.py"
    server = GatewayServer(GatewayConfig(orchestrators=(orch.url,)))
    try:
        await server.start(port=8935)
    except OSError:
        fallback = await net.gateway(orch.url)
        local = f'"http://localhost:{fallback.port}"'
        script.write_text(SEND_JOB_PY.replace('"http://localhost:8935"', local))
    else:
        net.servers.append(server)
        script.write_text(SEND_JOB_PY)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=12)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines() == [
        "Status: 200",
        "Response size: 921600 bytes",
        "Green channel sum: 24576000 (input was 0)",
    ]


async def test_an_unknown_capability_is_400_naming_it(net: Net) -> None:
    _, orch, gateway = await net.chain()
    status, _, text = await post(net, gateway.url + "/process/request/", job("nope"))
    assert status == 400
    assert text.decode().startswith("No orchestrators found for capability nope (")
    assert f"{orch.url}: no free capacity for nope" in text.decode()


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (None, "the Livepeer header is missing"),
        ("%%%", "not valid base64"),
        (base64.b64encode(b'{"capability": "green-tint-cpu"}').decode(), "timeout_seconds"),
        (
            base64.b64encode(
                b'{"capability": "green-tint-cpu", "timeout_seconds": 5, "request": "{}"}'
            ).decode(),
            "parameters is empty",
        ),
        (
            base64.b64encode(
                b'{"capability": "green-tint-cpu", "timeout_seconds": 5, "parameters": "{}"}'
            ).decode(),
            "request is empty",
        ),
        (build_job_header("bad name"), "not a usable capability name"),
        (build_job_header("x", parameters='{"orchestrators": {"include": "a"}}'), "include"),
    ],
)
async def test_the_gateway_checks_the_header_as_go_livepeer(
    net: Net, header: str | None, field: str
) -> None:
    _, _, gateway = await net.chain()
    headers = dict(RAW) if header is None else {**RAW, "Livepeer": header}
    status, answer, text = await post(net, gateway.url + "/process/request/", headers)
    assert status == 400
    assert answer["Content-Type"].startswith("text/plain")
    assert field in text.decode()


async def two_orchestrators(
    net: Net, first: Any = None, second: Any = None
) -> tuple[Any, Any, Any]:
    worker_a = await (net.worker(first) if first is not None else net.quickstart_worker())
    worker_b = await (net.worker(second) if second is not None else net.quickstart_worker())
    orch_a = await net.orchestrator(("green-tint-cpu", worker_a.url))
    orch_b = await net.orchestrator(("green-tint-cpu", worker_b.url))
    gateway = await net.gateway(orch_a.url, orch_b.url)
    return orch_a, orch_b, gateway


async def test_include_and_exclude_choose_the_orchestrator(net: Net) -> None:
    orch_a, orch_b, gateway = await two_orchestrators(net)
    url = gateway.url + "/process/request/"
    status, headers, _ = await post(net, url, job())
    assert (status, headers["X-Orchestrator-Url"]) == (200, orch_a.url)  # list order
    for allowed in (
        OrchestratorFilter(include=(orch_b.url,)),
        OrchestratorFilter(exclude=(orch_a.url,)),
    ):
        params = JobParameters(orchestrators=allowed)
        status, headers, body = await post(net, url, job(parameters=params))
        assert (status, headers["X-Orchestrator-Url"]) == (200, orch_b.url)
        assert sum(body[1::3]) == GREEN_SUM
    params = JobParameters(
        orchestrators=OrchestratorFilter(include=(orch_a.url,), exclude=(orch_a.url,))
    )
    status, _, text = await post(net, url, job(parameters=params))
    assert status == 400
    assert "left out by the job's include/exclude parameters" in text.decode()


async def test_a_5xx_moves_on_to_the_next_orchestrator(net: Net) -> None:
    orch_a, orch_b, gateway = await two_orchestrators(net, Boom())
    status, headers, body = await post(net, gateway.url + "/process/request/", job())
    assert (status, headers["X-Orchestrator-Url"]) == (200, orch_b.url)
    assert sum(body[1::3]) == GREEN_SUM
    assert f"orchestrator {orch_a.url} failed (HTTP 500)" in gateway.gateway.routing.lines()


async def test_when_every_orchestrator_fails_the_answer_is_503_naming_each(net: Net) -> None:
    boom = await net.worker(Boom())
    gone = await net.worker()
    gone_url = gone.url
    await gone.stop()
    orch_a = await net.orchestrator(("green-tint-cpu", boom.url))
    orch_b = await net.orchestrator(("green-tint-cpu", gone_url))
    gateway = await net.gateway(orch_a.url, orch_b.url)
    status, _, text = await post(net, gateway.url + "/process/request/", job())
    message = text.decode()
    assert status == 503
    assert message.startswith("All orchestrators failed for capability green-tint-cpu: ")
    assert f"{orch_a.url}: HTTP 500" in message
    assert "process() raised RuntimeError: boom" in message
    assert f"{orch_b.url}: HTTP 503" in message
    assert "removing capability" in message
    assert f"Fix: restart the worker at {gone_url} and register it again" in message


async def test_a_4xx_comes_back_as_it_is_without_trying_others(net: Net) -> None:
    _orch_a, orch_b, gateway = await two_orchestrators(net, GreenTint(), GreenTint())
    status, headers, body = await post(net, gateway.url + "/process/request/", job(), b"short")
    assert status == 400
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert "640x480 frame size" in json.loads(body)["message"]
    assert not any("job received" in line for line in orch_b.orchestrator.routing.lines())


async def test_an_unreachable_orchestrator_is_skipped(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    gateway = await net.gateway("http://127.0.0.1:9", orch.url)
    status, headers, _ = await post(net, gateway.url + "/process/request/", job())
    assert (status, headers["X-Orchestrator-Url"]) == (200, orch.url)
    discovery = await gateway.gateway.discover("green-tint-cpu")
    assert [offer.pool_url for offer in discovery.offers] == [orch.url]
    assert discovery.skipped[0].startswith("http://127.0.0.1:9: unreachable")


async def test_bodies_over_the_limit_are_413(net: Net) -> None:
    worker = await net.quickstart_worker()
    orch = await net.orchestrator(("green-tint-cpu", worker.url))
    gateway = await net.gateway(orch.url, max_body_bytes=100_000)
    for path, headers in (
        ("/process/request/", job()),
        ("/live/video-to-video", {**RAW, "X-Model-Id": "green-tint-cpu"}),
    ):
        status, _, text = await post(net, gateway.url + path, headers)
        assert status == 413
        assert "request body too large (max 100000 bytes)" in text.decode()


def test_gateway_config_checks_orchestrator_urls() -> None:
    with pytest.raises(ParamError, match="http:// or https://"):
        GatewayConfig(orchestrators=("127.0.0.1:8936",))
    assert GatewayConfig(orchestrators=("http://a:1/",)).orchestrators == ("http://a:1",)
