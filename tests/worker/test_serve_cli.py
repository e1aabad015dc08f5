"""``byoc-lab serve`` as a process: the quickstart's container, and registration.

The orchestrator here is a small aiohttp app that answers ``/capability/register``
the way go-livepeer's does (raw secret in ``Authorization``; 400 ``invalid
authorization`` otherwise) and records what it got.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
SECRET = "orch-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class FakeOrchestrator:
    url: str
    registrations: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(30.0), self.changed:
            await self.changed.wait_for(predicate)


@pytest.fixture
async def orchestrator() -> AsyncIterator[FakeOrchestrator]:
    state = FakeOrchestrator(url="")

    async def register(request: web.Request) -> web.Response:
        body = await request.json()
        async with state.changed:
            state.changed.notify_all()
            if request.headers.get("Authorization", "") != SECRET:
                state.refused += 1
                return web.Response(status=400, text="invalid authorization")
            state.registrations.append(body)
        return web.json_response("ok")

    app = web.Application()
    app.router.add_post("/capability/register", register)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


async def _serve(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "byoc_lab.cli",
        "serve",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(30):
        while True:
            try:
                async with http.get(url + "/health") as r:
                    if (await r.json())["status"] == "IDLE":
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def _stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    return err.decode()


async def test_quickstart_processor_served_like_its_container() -> None:
    port = _free_port()
    proc = await _serve(
        "examples/green_tint.py:GreenTintProcessor",
        "--port",
        str(port),
        "--capability",
        "green-tint-cpu",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_up(url)
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/stream/status") as r:
                assert r.status == 200
                assert (await r.json())["additional_info"]["capability"] == "green-tint-cpu"
            async with http.post(
                url + "/",
                data=bytes(640 * 480 * 3),
                headers={"Content-Type": "application/octet-stream"},
            ) as r:
                body = await r.read()
        assert len(body) == 921_600
        assert sum(body[1::3]) == 24_576_000
    finally:
        log = await _stop(proc)
    assert "GreenTintProcessor: initialised" in log
    assert f"Trickle server listening on port {port}" in log
    assert "GreenTintProcessor: shutdown" in log


async def test_registers_with_pytrickle_env_names_and_keeps_the_secret_out_of_logs(
    orchestrator: FakeOrchestrator,
) -> None:
    port = _free_port()
    proc = await _serve(
        "byoc_lab.builtins:GreenTint",
        "--port",
        str(port),
        "--register-interval",
        "0.3",
        env={
            "ORCH_URL": orchestrator.url,
            "ORCH_SECRET": SECRET,
            "CAPABILITY_NAME": "green-tint-cpu",
            "CAPABILITY_CAPACITY": "2",
            "CAPABILITY_PRICE_PER_UNIT": "5",
            "CAPABILITY_DESCRIPTION": "tints green",
        },
    )
    try:
        # the first registration, then a periodic one
        await orchestrator.wait_for(lambda: len(orchestrator.registrations) >= 2)
    finally:
        log = await _stop(proc)
    assert orchestrator.registrations[0] == {
        "name": "green-tint-cpu",
        "description": "tints green",
        "url": f"http://127.0.0.1:{port}",
        "capacity": 2,
        "price_per_unit": 5,
        "price_scaling": 1,
    }
    assert "registered capability 'green-tint-cpu'" in log
    assert SECRET not in log


async def test_wrong_secret_is_refused_and_explained(
    orchestrator: FakeOrchestrator, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("not-the-secret\n")
    port = _free_port()
    proc = await _serve(
        "byoc_lab.builtins:GreenTint",
        "--port",
        str(port),
        "--orch-url",
        orchestrator.url,
        "--orch-secret-file",
        str(secret_file),
        "--capability",
        "green-tint-cpu",
    )
    try:
        await _wait_up(f"http://127.0.0.1:{port}")
        await orchestrator.wait_for(lambda: orchestrator.refused >= 1)
    finally:
        log = await _stop(proc)
    assert orchestrator.registrations == []
    assert "refused the secret (HTTP 400 'invalid authorization')" in log
    assert "use the same secret as the orchestrator's -orchSecret" in log
    assert "not-the-secret" not in log


async def test_bad_capability_name_and_missing_secret_stop_at_once() -> None:
    bad = await _serve(
        "byoc_lab.builtins:GreenTint",
        "--orch-url",
        "http://127.0.0.1:9",
        "--capability",
        "../etc",
        env={"ORCH_SECRET": "x"},
    )
    async with asyncio.timeout(30):
        _, err = await bad.communicate()
    assert bad.returncode == 2
    assert "capability name is not usable" in err.decode()
    env = {k: v for k, v in os.environ.items() if k != "ORCH_SECRET"}
    nosecret = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "byoc_lab.cli",
        "serve",
        "byoc_lab.builtins:GreenTint",
        "--orch-url",
        "http://127.0.0.1:9",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, err = await nosecret.communicate()
    assert nosecret.returncode == 2
    assert "no orchestrator secret given" in err.decode()
    assert json.dumps("x") not in err.decode()
