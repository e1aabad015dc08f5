"""The fault tests' network: gateway → orchestrator (trickle + fault plan) → worker, real.

:func:`fault_net` starts a worker, an orchestrator whose trickle server consults a
:class:`~byoc_lab.trickle.faults.FaultPlan`, and a gateway, all on 127.0.0.1 and on the
test's loop, plus a :class:`~byoc_lab.GatewayClient` (on byoc_lab's background loop, as
in a notebook). Everything it started stops when the ``async with`` block ends.

:func:`run_stream` plays a stream through it: grey 128x96 frames with their numbers
burned in, published in real time at 30 fps with a 1 s GOP (input segment ``k``
carries frames ``30k … 30k+29``), every output frame read back with its arrival time,
and every worker event collected from the events channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from byoc_lab import GatewayClient
from byoc_lab.builtins import GreenTint
from byoc_lab.client import StreamHandle
from byoc_lab.errors import ByocLabError
from byoc_lab.framecode import read_frame_number
from byoc_lab.network import (
    Capability,
    GatewayConfig,
    GatewayServer,
    OrchestratorConfig,
    OrchestratorServer,
)
from byoc_lab.sources import SyntheticSource
from byoc_lab.trickle import RetryPolicy
from byoc_lab.trickle.faults import FaultPlan
from byoc_lab.worker import WorkerConfig, WorkerServer
from byoc_lab.worker.request import SessionConfig

ROOT = Path(__file__).resolve().parents[2]
CAPABILITY = "tint"
SECRET = "reliability-secret"
FPS = 30
GOP = 30  # frames per input segment (the client's 1 s GOP at 30 fps)

FAST = RetryPolicy(attempts=4, delay=0.2, connect_timeout=2.0, read_timeout=5.0, wait_timeout=5.0)
"""The worker's trickle bounds: give up on a lost channel within a couple of seconds."""

SESSION = SessionConfig(
    retry=FAST,
    input_timeout=5.0,
    heartbeat_interval=0.5,
    status_interval=0.5,
    error_interval=0.2,
    final_timeout=3.0,
)


def segment_frames(seq: int) -> list[int]:
    """The burned-in numbers input segment ``seq`` carries."""
    return list(range(seq * GOP, (seq + 1) * GOP))


def grey(count: int) -> SyntheticSource:
    """Grey 128x96 frames numbered 0 … count-1, at 30 fps."""
    return SyntheticSource(
        "solid", width=128, height=96, color=(100, 100, 100), count=count, fps=FPS
    )


async def poll(check: Callable[[], Any], *, within: float, what: str) -> Any:
    """``check()`` (sync or async) until truthy; fail naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within} s")
        await asyncio.sleep(0.05)


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """``GET url`` → (status, JSON body or None)."""
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        return response.status, body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the in-process network ---------------------------------------------------------------


@dataclass
class Net:
    """The running services of one test."""

    plan: FaultPlan
    http: aiohttp.ClientSession
    client: GatewayClient
    worker: WorkerServer | None
    orchestrator: OrchestratorServer
    gateway: GatewayServer

    @property
    def trickle(self) -> Any:
        return self.orchestrator.orchestrator.trickle

    def worker_status(self) -> dict[str, Any]:
        assert self.worker is not None
        return self.worker.core.status()

    async def assert_healthy(self, worker_url: str | None = None) -> None:
        """Every service answers: worker IDLE, orchestrator and gateway up, trickle serves.

        A trickle channel that did not exist before is created, written and read back.
        """
        url = worker_url if worker_url is not None else self._worker_url()
        status, body = await get_json(self.http, url + "/health")
        assert (status, body) == (200, {"status": "IDLE"}), body
        status, _ = await get_json(self.http, self.orchestrator.url + "/process/token")
        assert status == 400  # answers (no Livepeer-Capability header given)
        status, _ = await get_json(self.http, self.gateway.url + "/process/stream/nope/status")
        assert status == 404  # answers; no such stream
        name = f"health-{time.monotonic_ns()}"
        self.trickle.create_channel(name, "application/json")
        base = self.orchestrator.url + "/ai/trickle/" + name
        async with self.http.post(base + "/0", data=b'{"ok":1}') as response:
            assert response.status == 200
        async with self.http.get(base + "/0") as response:
            assert (response.status, await response.read()) == (200, b'{"ok":1}')
        self.trickle.close_channel(name)

    def _worker_url(self) -> str:
        assert self.worker is not None
        return self.worker.url


@contextlib.asynccontextmanager
async def fault_net(
    *, worker: bool = True, orch_port: int = 0, session: SessionConfig = SESSION
) -> AsyncIterator[Net]:
    """Worker (GreenTint, capability ``tint``) → orchestrator → gateway, and a client.

    With ``worker=False`` no worker is started or registered (bring your own).
    """
    servers: list[Any] = []
    plan = FaultPlan()
    client: GatewayClient | None = None
    async with aiohttp.ClientSession() as http:
        try:
            capabilities: tuple[Capability, ...] = ()
            worker_server: WorkerServer | None = None
            if worker:
                worker_server = WorkerServer(
                    GreenTint(), WorkerConfig(capability=CAPABILITY, session=session)
                )
                await worker_server.start(port=0)
                servers.append(worker_server)
                await worker_server.core.wait_initialized()
                capabilities = (Capability(name=CAPABILITY, url=worker_server.url),)
            orch = OrchestratorServer(
                OrchestratorConfig(
                    capabilities=capabilities,
                    secret=SECRET,
                    monitor_interval=0.2,
                    keepalive_interval=0.5,
                )
            )
            await orch.start(port=orch_port)
            orch.orchestrator.trickle.faults = plan
            servers.append(orch)
            gateway = GatewayServer(GatewayConfig(orchestrators=(orch.url,)))
            await gateway.start(port=0)
            servers.append(gateway)
            client = GatewayClient(gateway.url, capability=CAPABILITY)
            yield Net(plan, http, client, worker_server, orch, gateway)
        finally:
            if client is not None:
                await client.aclose()
            for server in reversed(servers):
                await server.stop()


# -- one stream ---------------------------------------------------------------------------


@dataclass
class Run:
    """What one stream did, seen from the client."""

    stream: StreamHandle
    started: float  # monotonic time the first frame was published
    ended: float = 0.0  # monotonic time the output ended (the frames iteration stopped)
    numbers: list[int | None] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    frames_error: ByocLabError | None = None
    publish_error: BaseException | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] | None = None

    def lag(self, index: int) -> float:
        """How late output frame ``index`` arrived after its input frame was due to leave."""
        number = self.numbers[index]
        assert number is not None
        return self.arrivals[index] - (self.started + number / FPS)

    def errors(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("type") == "error" and (kind is None or e.get("error_type") == kind)
        ]

    def final_status(self) -> dict[str, Any]:
        finals = [e for e in self.events if e.get("type") == "status"]
        assert finals, [e.get("type") for e in self.events]
        return finals[-1]

    def missing(self, count: int) -> list[int]:
        got = set(self.numbers)
        return [n for n in range(count) if n not in got]


async def run_stream(
    client: GatewayClient,
    count: int,
    *,
    during: Callable[[Run], Coroutine[Any, Any, None]] | None = None,
    frame_timeout: float = 8.0,
) -> Run:
    """Publish ``count`` frames in real time and read everything back until the end.

    ``during(run)`` runs beside the stream (from the first frame on); it is awaited
    before the stream is stopped.
    """
    stream = await client.astart_stream(enable_data=False)
    run = Run(stream, time.monotonic())

    async def collect_events() -> None:
        with contextlib.suppress(ByocLabError):
            async for event in stream.aevents(timeout=None):
                run.events.append(event)

    events = asyncio.create_task(collect_events())
    side: asyncio.Task[None] | None = None
    try:
        await stream.apublish(grey(count), fps=FPS)
        run.started = time.monotonic()
        if during is not None:
            side = asyncio.create_task(during(run))
        try:
            async for image in stream.aframes(timeout=frame_timeout):
                run.arrivals.append(time.monotonic())
                run.numbers.append(read_frame_number(image))
        except ByocLabError as exc:
            run.frames_error = exc
        run.ended = time.monotonic()
        try:
            await stream.await_published(10)
        except ByocLabError as exc:
            run.publish_error = exc
        if side is not None:
            await side
        run.stats = stream.stats()
        with contextlib.suppress(ByocLabError):
            run.status = await stream.astatus()
        await asyncio.wait_for(events, 10)  # the events channel closes with the stream
    finally:
        if side is not None and not side.done():
            side.cancel()
        events.cancel()
        await stream.astop()
    return run


# -- worker and orchestrator processes ----------------------------------------------------


class Process:
    """A ``byoc-lab`` subcommand (or a script) in its own process, killed at the end.

    Its output goes to ``log`` (a file, so a chatty process can never block on a full
    pipe); :meth:`tail` shows it in assertion messages.
    """

    def __init__(self, *args: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, *args] if args[0].endswith(".py") else [
            sys.executable, "-m", "byoc_lab.cli", *args,
        ]  # fmt: skip
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, stdout: int | None = None) -> Process:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=ROOT,
                stdout=stdout if stdout is not None else sink,
                stderr=sink,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-3000:]

    def close(self) -> None:
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


def stall(run: Run) -> float:
    """The longest wait between two output frames."""
    gaps = [b - a for a, b in zip(run.arrivals, run.arrivals[1:], strict=False)]
    return max(gaps, default=0.0)


def first_after(run: Run, number: int) -> int:
    """Index of the first output frame whose burned-in number is above ``number``."""
    return next(i for i, n in enumerate(run.numbers) if n is not None and n > number)


def measure(name: str, **values: float) -> None:
    """Print a measurement (shown with ``pytest -s``; recovery times are reported, not tuned)."""
    text = ", ".join(f"{key} {value:.3f}" for key, value in values.items())
    print(f"\n[reliability] {name}: {text}")
