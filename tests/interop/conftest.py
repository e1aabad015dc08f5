"""Fixtures for interop tests: the pytrickle peer venv and a byoc_lab trickle server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from peers.harness import pytrickle_python

from byoc_lab.trickle import TrickleServer, TrickleServerConfig


@pytest.fixture(scope="session")
def pytrickle() -> Path:
    """Python of the pytrickle 0.1.6 venv (built by ``make peers`` if missing)."""
    return pytrickle_python()


@dataclass
class ServedTrickle:
    """A byoc_lab trickle server listening on 127.0.0.1."""

    server: TrickleServer
    base_url: str


@pytest.fixture
async def trickle_server() -> AsyncIterator[ServedTrickle]:
    """A standalone byoc_lab trickle server (autocreate on) on an ephemeral port."""
    server = TrickleServer(TrickleServerConfig(autocreate=True))
    runner = web.AppRunner(server.make_app(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield ServedTrickle(server, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
