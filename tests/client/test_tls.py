"""TLS: verification is on by default, and ``verify_tls=False`` reaches self-signed peers.

The orchestrator and the gateway serve HTTPS with a self-signed certificate, as a
go-livepeer orchestrator does by default, so the stream's trickle URLs are https too.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from byoc_lab import GatewayClient
from byoc_lab.builtins import GreenTint
from byoc_lab.client import JobError
from byoc_lab.network import Capability, Gateway, GatewayConfig, Orchestrator, OrchestratorConfig
from byoc_lab.worker import WorkerConfig, WorkerServer

from .conftest import CAPABILITY, SECRET, assert_green, grey, numbers


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=30,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
async def serve_tls(
    self_signed: ssl.SSLContext,
) -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed).start()
        runners.append(runner)
        return f"https://127.0.0.1:{runner.addresses[0][1]}"

    try:
        yield serve
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


async def test_verify_tls_is_on_by_default_and_off_reaches_self_signed_peers(
    serve_tls: Callable[[web.Application], Awaitable[str]],
) -> None:
    worker = WorkerServer(
        GreenTint(), WorkerConfig(capability=CAPABILITY, trickle_verify_tls=False)
    )
    await worker.start(port=0)
    try:
        await worker.core.wait_initialized()
        orchestrator = Orchestrator(
            OrchestratorConfig(
                capabilities=(Capability(name=CAPABILITY, url=worker.url),), secret=SECRET
            )
        )
        orch_url = await serve_tls(orchestrator.make_app())
        gateway = Gateway(GatewayConfig(orchestrators=(orch_url,), verify_tls=False))
        gateway_url = await serve_tls(gateway.make_app())

        async with GatewayClient(gateway_url, capability=CAPABILITY) as strict:
            with pytest.raises(JobError) as caught:
                await strict.asubmit_job(body=bytes(640 * 480 * 3))
        assert caught.value.status == 0
        assert "TLS handshake" in str(caught.value)
        assert "verify_tls=False" in str(caught.value)

        async with GatewayClient(gateway_url, capability=CAPABILITY, verify_tls=False) as client:
            out = await client.asend_frame(np.zeros((480, 640, 3), dtype=np.uint8))
            assert isinstance(out, np.ndarray)
            assert (out[:, :, 1] == 80).all()
            stream = await client.astart_stream(enable_data=False)
            assert stream.urls["trickle_publish_url"].startswith(f"{orch_url}/ai/trickle/")
            await stream.apublish(grey(10), realtime=False)
            frames = [image async for image in stream.aframes(timeout=5)]
            await stream.astop()
        assert numbers(frames) == list(range(10))
        for image in frames:
            assert_green(image)
    finally:
        await worker.stop()
