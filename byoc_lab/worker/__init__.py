"""The BYOC worker: serve a processor the way go-livepeer's orchestrator calls it.

- :class:`Worker` runs one inside a notebook kernel, on byoc_lab's background loop.
- :class:`WorkerServer` serves one on any running event loop (the CLI, tests).
- :func:`create_worker_app` builds the aiohttp app around a :class:`WorkerCore`.
- :mod:`byoc_lab.worker.session` streams frames: subscribe, decode, process, encode,
  publish.
"""

from __future__ import annotations

from byoc_lab.worker.app import create_worker_app
from byoc_lab.worker.core import Health, WorkerConfig, WorkerCore
from byoc_lab.worker.handle import Worker
from byoc_lab.worker.server import WorkerServer, run_processor

__all__ = [
    "Health",
    "Worker",
    "WorkerConfig",
    "WorkerCore",
    "WorkerServer",
    "create_worker_app",
    "run_processor",
]
