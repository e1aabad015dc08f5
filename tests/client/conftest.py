"""Real worker → orchestrator → gateway stacks on 127.0.0.1 for GatewayClient tests.

The client always runs on byoc_lab's background loop. The servers run elsewhere, so
every task left on that loop after a test belongs to a client:

- async tests start them on the test's own loop (``stack`` fixture) and use the
  client's ``a``-prefixed twins;
- plain (sync) tests start them on a separate server thread (``thread_stack``) and use
  the sync API, as a notebook cell would.

Time limits per test come from tests/conftest.py (``TIME_LIMITS``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from byoc_lab.builtins import GreenTint
from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.network import (
    Capability,
    GatewayConfig,
    GatewayServer,
    OrchestratorConfig,
    OrchestratorServer,
)
from byoc_lab.runtime import get_loop
from byoc_lab.sources import SyntheticSource
from byoc_lab.worker import WorkerConfig, WorkerServer

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUICKSTART = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"
CAPABILITY = "green-tint-cpu"
SECRET = "client-test-secret"


@dataclass
class Stack:
    """Worker → orchestrator → gateway, started and stopped on one loop."""

    servers: list[Any] = field(default_factory=list)
    worker: WorkerServer | None = None
    orchestrator: OrchestratorServer | None = None
    gateway: GatewayServer | None = None

    async def start(
        self,
        processor: Any = None,
        *,
        capability: str = CAPABILITY,
        gateway_config: dict[str, Any] | None = None,
        **worker_config: Any,
    ) -> Stack:
        worker = WorkerServer(
            processor if processor is not None else GreenTint(),
            WorkerConfig(capability=capability, **worker_config),
        )
        await worker.start(port=0)
        self.servers.append(worker)
        await worker.core.wait_initialized()
        orch = OrchestratorServer(
            OrchestratorConfig(
                capabilities=(Capability(name=capability, url=worker.url),),
                secret=SECRET,
                monitor_interval=0.2,
                keepalive_interval=0.5,
            )
        )
        await orch.start(port=0)
        self.servers.append(orch)
        gateway = GatewayServer(GatewayConfig(orchestrators=(orch.url,), **(gateway_config or {})))
        await gateway.start(port=0)
        self.servers.append(gateway)
        self.worker, self.orchestrator, self.gateway = worker, orch, gateway
        return self

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    @property
    def orch_url(self) -> str:
        assert self.orchestrator is not None
        return self.orchestrator.url

    async def stop(self) -> None:
        for server in reversed(self.servers):
            await server.stop()
        self.servers.clear()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """A stack factory on the test's loop: ``await stack.start(processor)``."""
    holder = Stack()
    try:
        yield holder
    finally:
        await holder.stop()


class ServerThread:
    """An event loop in its own thread, for servers that sync tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="client-test-servers")
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def server_thread() -> Iterator[ServerThread]:
    thread = ServerThread()
    try:
        yield thread
    finally:
        thread.close()


@pytest.fixture
def thread_stack(server_thread: ServerThread) -> Iterator[Callable[..., Stack]]:
    """``thread_stack(processor, **config)`` starts a stack on the server thread."""
    started: list[Stack] = []

    def start(processor: Any = None, **kwargs: Any) -> Stack:
        holder = server_thread.run(Stack().start(processor, **kwargs))
        started.append(holder)
        return holder

    try:
        yield start
    finally:
        for holder in started:
            server_thread.run(holder.stop())


async def _client_tasks() -> set[str]:
    current = asyncio.current_task()
    return {t.get_name() for t in asyncio.all_tasks() if t is not current and not t.done()}


def client_tasks() -> set[str]:
    """Names of the tasks running on byoc_lab's background loop (where clients live)."""
    return get_loop().run(_client_tasks(), 5.0)


async def aclient_tasks() -> set[str]:
    return await asyncio.wrap_future(get_loop().submit(_client_tasks()))


def grey(count: int, fps: float = 30.0) -> SyntheticSource:
    """Grey 128x96 frames with their numbers burned in."""
    return SyntheticSource(
        "solid", width=128, height=96, color=(100, 100, 100), count=count, fps=fps
    )


def means(image: RGBImage) -> tuple[float, float, float]:
    """Mean R, G, B of the bottom half (below the burned-in frame number)."""
    half = image[image.shape[0] // 2 :]
    r, g, b = (float(half[:, :, c].mean()) for c in range(3))
    return r, g, b


def numbers(frames: list[RGBImage]) -> list[int | None]:
    return [read_frame_number(frame) for frame in frames]


def assert_green(image: RGBImage, *, grey: int = 100, boost: int = 80) -> None:
    """A grey frame tinted by ``boost``: G = grey + boost, R = B = grey (codec tolerance)."""
    r, g, b = means(image)
    assert abs(g - (grey + boost)) < 6, (r, g, b)
    assert abs(r - grey) < 6, (r, g, b)
    assert abs(b - grey) < 6, (r, g, b)
