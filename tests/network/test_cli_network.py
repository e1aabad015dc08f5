"""``byoc-lab orchestrator`` / ``gateway`` as processes, with go-livepeer's flag names."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path

import aiohttp
import pytest

from byoc_lab.errors import RegistrationError
from byoc_lab.worker.registration import Registration, register

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "byoc_lab.cli",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _read_until(proc: asyncio.subprocess.Process, pattern: str) -> tuple[str, re.Match[str]]:
    assert proc.stdout is not None
    seen = ""
    async with asyncio.timeout(30):
        while True:
            line = (await proc.stdout.readline()).decode()
            assert line, f"process ended before printing {pattern!r}:\n{seen}"
            seen += line
            match = re.search(pattern, seen)
            if match:
                return seen, match


async def test_on_chain_networks_are_refused_with_a_way_out() -> None:
    proc = await _cli("gateway", "-gateway", "-network", "arbitrum-one-mainnet")
    async with asyncio.timeout(30):
        out, _ = await proc.communicate()
    assert proc.returncode == 2
    assert "-network arbitrum-one-mainnet is not supported" in out.decode()
    assert "run go-livepeer itself" in out.decode()


async def test_orchestrator_without_a_secret_generates_one_and_says_where(tmp_path: Path) -> None:
    port = _free_port()
    proc = await _cli("orchestrator", "-orchestrator", "-serviceAddr", f"127.0.0.1:{port}")
    try:
        log, match = await _read_until(proc, r"secret generated and written to (\S+\.secret)")
        secret_file = Path(match.group(1))
        await _read_until(proc, r"listening on")
        mode, text = await asyncio.to_thread(
            lambda: (secret_file.stat().st_mode, secret_file.read_text())
        )
        assert stat.S_IMODE(mode) == 0o600
        secret = text.strip()
        assert len(secret) >= 32
        assert secret not in log
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            good = Registration(orch_url=url, secret=secret, name="t", url="http://127.0.0.1:9")
            await register(http, good)
            bad = Registration(orch_url=url, secret="guess", name="t", url="http://127.0.0.1:9")
            with pytest.raises(RegistrationError, match="refused the secret"):
                await register(http, bad)
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.communicate()
    assert proc.returncode == 0
    assert not await asyncio.to_thread(secret_file.exists)  # removed at stop
    assert os.environ.get("ORCH_SECRET") is None or os.environ["ORCH_SECRET"] != secret
