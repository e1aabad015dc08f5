"""Worker processes for the live-stream benchmark: started, watched and always stopped.

:class:`WorkerProcess` runs a worker (byoc_lab's ``byoc-lab serve`` or pytrickle's
``StreamProcessor``) as a separate process on an ephemeral port, so its CPU time can be
read from ``/proc/<pid>/stat`` (and its event-loop thread's from
``/proc/<pid>/task/<pid>/stat``); :func:`worker_running` scopes one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO

import aiohttp

__all__ = ["BenchError", "WorkerProcess", "free_port", "worker_running"]


class BenchError(Exception):
    """A stream could not be measured (worker did not start, never subscribed, ...)."""


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WorkerProcess:
    """A worker in its own process; ``argv(port)`` is its command line.

    The process is started by :meth:`start` and always ended by :meth:`stop`
    (terminate, wait, kill); its output goes to a temporary log file.
    """

    def __init__(self, name: str, argv: Callable[[int], Sequence[str]]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._argv = list(argv(self.port))
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Launch the process."""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )

    async def wait_ready(self, http: aiohttp.ClientSession, limit: float = 90.0) -> None:
        """Until ``GET /health`` answers 200 (at most ``limit`` seconds)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise BenchError(f"{self.name} worker exited at start: {self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(self.url + "/health") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise BenchError(f"{self.name} worker not healthy after {limit:.0f} s")

    def cpu_ticks(self) -> tuple[int, int]:
        """CPU time (utime + stime) in clock ticks: the whole process, its main thread.

        The process figure counts every thread, ended ones included; the main thread
        is where both workers run their asyncio event loop (trickle I/O, hand-offs).
        """
        if self._proc is None:
            return 0, 0
        pid = self._proc.pid
        return _stat_ticks(f"/proc/{pid}/stat"), _stat_ticks(f"/proc/{pid}/task/{pid}/stat")

    @property
    def exit_code(self) -> int | None:
        """The process's exit status once it has ended (None while it runs)."""
        return self._proc.poll() if self._proc is not None else None

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers) and close its log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, limit: int = 300) -> str:
        """The last characters of the process's output, on one line."""
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - limit))
        return " ".join(self._log.read().decode(errors="replace").split())


def _stat_ticks(path: str) -> int:
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@contextlib.asynccontextmanager
async def worker_running(
    http: aiohttp.ClientSession, name: str, argv: Callable[[int], Sequence[str]]
) -> AsyncIterator[WorkerProcess]:
    """A started, healthy worker process, stopped on exit whatever happens."""
    worker = WorkerProcess(name, argv)
    try:
        worker.start()
        await worker.wait_ready(http)
        yield worker
    finally:
        worker.stop()
