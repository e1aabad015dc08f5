"""Security: registration needs the secret, and secrets never leak anywhere they could be read.

Promises:

- A registration or unregistration without the orchestrator's secret, or with any
  wrong one, gets a 400 that does not show the secret, and changes nothing: the
  registry, the streams and the trickle channels are as before, and jobs still reach
  the real worker.
- Across a full run (registration, a refused registration, a batch job, a live stream
  with events and data, and error answers), neither the orchestrator's secret nor the
  worker's bearer token appears in any log record (DEBUG, every logger), routing log,
  stream event, status answer, error body or ``repr`` of a configuration.
- An exported build context (files, the wheel's members, the Dockerfile's labels and
  environment) holds no secret, even with ``ORCH_SECRET`` set and a filled-in
  ``register.env`` beside the processor.

Already covered elsewhere and not repeated here: the exact-secret rule for one
registration (tests/network/test_orchestrator_jobs.py), a generated secret's 0600 file
(same file and tests/network/test_cli_network.py), ``byoc-lab serve`` keeping
``ORCH_SECRET`` out of its log (tests/worker/test_serve_cli.py), and ``ORCH_SECRET``
out of the golden contexts (tests/export/test_golden.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from dockerfile_parse import DockerfileParser

from byoc_lab import GatewayClient, SyntheticSource
from byoc_lab.builtins import GreenTint
from byoc_lab.errors import RegistrationError
from byoc_lab.export.api import export
from byoc_lab.network import (
    GatewayConfig,
    GatewayServer,
    OrchestratorConfig,
    OrchestratorServer,
)
from byoc_lab.network.livepeer_header import build_job_header
from byoc_lab.worker import WorkerConfig, WorkerServer
from byoc_lab.worker.registration import Registration, register, unregister

from .stack import assert_green

ROOT = Path(__file__).resolve().parents[2]
FRAME = bytes(64 * 48 * 3)


def sentinel(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(12)}"


async def _post(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, str]:
    async with http.post(url, **kwargs) as response:
        return response.status, await response.text()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_registration_without_the_secret_changes_nothing(
    http: aiohttp.ClientSession,
) -> None:
    secret = sentinel("orch-secret")
    worker = WorkerServer(GreenTint(), WorkerConfig(frame_size=(64, 48)))
    orch = OrchestratorServer(OrchestratorConfig(secret=secret))
    await worker.start()
    await orch.start()
    try:
        real = Registration(orch_url=orch.url, secret=secret, name="tint", url=worker.url)
        await register(http, real)
        orchestrator = orch.orchestrator
        orchestrator.trickle.create_channel("keep")

        def state() -> tuple[Any, ...]:
            return (
                [c.as_dict() for c in orchestrator.capabilities()],
                orchestrator.streams(),
                [c.name for c in orchestrator.trickle.channels()],
                orchestrator.routing.lines(),
            )

        before = state()
        hijack = {"name": "tint", "url": "http://127.0.0.1:9", "capacity": 99, "token": "t"}
        wrong = [
            "",
            "wrong",
            secret[:-1],
            secret + "x",
            secret.upper(),
            f"Bearer {secret}",
            f"Basic {secret}",
            secret.replace("-", "_"),
        ]
        for given in [None, *wrong]:
            headers = {} if given is None else {"Authorization": given}
            for path, body in (
                ("/capability/register", {"json": hijack}),
                ("/capability/register", {"json": {**hijack, "name": "evil"}}),
                ("/capability/unregister", {"data": b"tint"}),
            ):
                status, text = await _post(http, orch.url + path, headers=headers, **body)
                assert (status, given) == (400, given)
                assert "invalid authorization" in text
                assert secret not in text
        with pytest.raises(RegistrationError, match="refused the secret") as refused:
            await unregister(
                http, Registration(orch_url=orch.url, secret="guess", name="tint", url=worker.url)
            )
        assert secret not in str(refused.value)
        assert state() == before
        header = build_job_header("tint")
        status, _ = await _post(
            http, orch.url + "/process/request/job", data=FRAME, headers={"Livepeer": header}
        )
        assert status == 200
    finally:
        await orch.stop()
        await worker.stop()


async def test_secrets_never_reach_logs_events_routing_status_or_answers(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, token = sentinel("orch-secret"), sentinel("worker-token")
    config = WorkerConfig(capability="tint", frame_size=(64, 48), token=token)
    worker = WorkerServer(GreenTint(), config)
    orch = OrchestratorServer(OrchestratorConfig(secret=secret, monitor_interval=0.2))
    servers: list[Any] = [worker, orch]
    seen: list[str] = [repr(config), repr(orch.orchestrator.config)]
    try:
        await worker.start()
        await orch.start()
        gateway = GatewayServer(GatewayConfig(orchestrators=(orch.url,)))
        await gateway.start()
        servers.append(gateway)
        good = Registration(
            orch_url=orch.url, secret=secret, name="tint", url=worker.url, token=token
        )
        seen += [repr(good), good.describe()]
        with pytest.raises(RegistrationError) as refused:
            await register(
                http,
                Registration(
                    orch_url=orch.url, secret=sentinel("wrong"), name="tint", url=worker.url
                ),
            )
        seen.append(str(refused.value))
        await register(http, good)
        [info] = orch.orchestrator.capabilities()
        assert info.has_token  # the token is in use: the worker refuses calls without it
        seen += [repr(info), repr(orch.orchestrator.registry.get("tint"))]
        status, text = await _post(http, worker.url + "/job", data=FRAME)
        assert status == 401
        seen.append(text)

        async with GatewayClient(gateway.url, capability="tint") as client:
            assert_green(bytes(await client.asend_frame(FRAME)))
            seen += await _run_stream(client, http, gateway.url, worker.url, token)
        seen += orch.orchestrator.routing.lines() + gateway.gateway.routing.lines()
    finally:
        for server in reversed(servers):
            await server.stop()
    seen.append(caplog.text)
    seen += [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert len(caplog.records) > 20  # the run was logged, at DEBUG too
    everything = "\n".join(seen)
    assert secret not in everything
    assert token not in everything


async def _run_stream(
    client: GatewayClient, http: aiohttp.ClientSession, gateway: str, worker: str, token: str
) -> list[str]:
    """A stream of 30 frames with events, plus the status answers met on the way."""
    stream = await client.astart_stream(stream_id="sec1")
    seen = []

    async def read_events() -> list[dict[str, Any]]:
        return [event async for event in stream.aevents(timeout=10)]

    reading = asyncio.create_task(read_events())
    try:
        source = SyntheticSource("solid", width=128, height=96, color=(100, 100, 100), count=30)
        await stream.apublish(source, realtime=False)
        frames = [image async for image in stream.aframes(timeout=10)]
        assert len(frames) == 30
        assert np.mean(frames[-1][48:, :, 1]) > 150  # tinted: the stream really ran
        async with http.get(f"{gateway}/process/stream/sec1/status") as r:
            seen.append(await r.text())
        async with http.get(worker + "/stream/status") as r:
            seen.append(await r.text())
        events = await asyncio.wait_for(reading, 15)  # ends with the stream's events channel
        assert {"heartbeat", "status", "stream_stopped"} <= {e.get("type") for e in events}
        seen += [repr(event) for event in events]
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await stream.astop()
    assert token not in repr(stream.urls)
    return seen


def _contents(path: Path) -> list[tuple[str, bytes]]:
    """Every file under ``path``, and every member of every wheel, with its bytes."""
    found = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        found.append((str(file.relative_to(path)), file.read_bytes()))
        if file.suffix == ".whl":
            with zipfile.ZipFile(file) as wheel:
                found += [(f"{file.name}!{n}", wheel.read(n)) for n in wheel.namelist()]
    return found


@pytest.mark.parametrize("target", ["byoc_lab", "pytrickle"])
def test_exported_context_holds_no_secret(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = sentinel("orch-secret")
    monkeypatch.setenv("ORCH_SECRET", secret)
    monkeypatch.setenv("BYOC_LAB_TOKEN", secret)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "examples" / "green_tint.py", project / "processor.py")
    for name in ("register.env", ".env"):
        (project / name).write_text(f"ORCH_SECRET={secret}\n")
    dest = tmp_path / "context"
    export(f"{project / 'processor.py'}:GreenTintProcessor", dest, capability="tint", target=target)
    files = _contents(dest)
    assert any(name.endswith(".whl") for name, _ in files)
    for name, data in files:
        assert secret.encode() not in data, name
    names = {name for name, _ in files}
    assert not names & {"register.env", ".env"}
    parsed = DockerfileParser(str(dest / "Dockerfile"))
    assert secret not in repr(parsed.labels) + repr(parsed.envs)
    assert "register.env" not in [
        line.lstrip("!")
        for line in (dest / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
