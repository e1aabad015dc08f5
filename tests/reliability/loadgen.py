"""Load generators and resource samples shared by ``test_load.py`` and ``soak.py``.

- :func:`batch_load` sends raw-RGB batch jobs through a :class:`~byoc_lab.GatewayClient`
  at a fixed rate (open loop: job ``i`` leaves ``i / rate`` seconds after the first,
  late jobs leave at once), and checks every answer: HTTP 200, the raw content type,
  the frame's byte count, the exact green tint of that job's own frame and its
  burned-in number (so no answer can belong to another job).
- :func:`sample` reads what the process holds: RSS, open file descriptors and the
  tasks on byoc_lab's background loop (where LocalNetwork and the client run).
- :func:`floor_slope` fits a line to a metric's lower envelope: the least value of
  each of a few consecutive stretches of samples. Load in flight (jobs, frames being
  coded) lifts single samples; a leak lifts the floor.

It runs on byoc_lab's background loop (``get_loop().run_async(batch_load(...))``), beside
the client and the servers, so no job crosses threads.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from byoc_lab import GatewayClient
from byoc_lab.errors import ByocLabError
from byoc_lab.framecode import burn_frame_number, read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.runtime import get_loop

RAW = "application/octet-stream"
GREY = 100
BOOST = 80  # GreenTint's default
_PAGE = os.sysconf("SC_PAGE_SIZE")


def job_frame(number: int, width: int, height: int) -> RGBImage:
    """A grey frame with ``number`` burned in (its code needs width >= 32, height >= 16)."""
    image = np.full((height, width, 3), GREY, dtype=np.uint8)
    burn_frame_number(image, number)
    return image


def tinted(image: RGBImage, boost: int = BOOST) -> RGBImage:
    """What a green tint of ``boost`` makes of ``image``, computed here, not by byoc_lab."""
    out = image.astype(np.int16)
    out[:, :, 1] += boost
    return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class BatchReport:
    """What one run of :func:`batch_load` saw."""

    rate: float
    sent: int = 0
    ok: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    max_in_flight: int = 0
    max_lag_ms: float = 0.0  # how late the most delayed job left against its schedule

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` (0..100) in milliseconds (0 without answers)."""
        if not self.latencies_ms:
            return 0.0
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[min(max(round(q) - 1, 0), 98)]

    def summary(self) -> str:
        """One line: counts, achieved rate and latency percentiles."""
        achieved = self.sent / self.seconds if self.seconds else 0.0
        lat = self.latencies_ms
        return (
            f"{self.sent} jobs in {self.seconds:.2f} s ({achieved:.1f}/s, target {self.rate:g}/s):"
            f" {self.ok} ok, {len(self.errors)} errors; latency p50 {self.percentile(50):.1f} ms"
            f" p95 {self.percentile(95):.1f} ms max {max(lat, default=0.0):.1f} ms;"
            f" at most {self.max_in_flight} in flight; schedule lag max {self.max_lag_ms:.0f} ms"
        )


async def batch_load(
    client: GatewayClient,
    *,
    rate: float,
    seconds: float,
    frame_size: tuple[int, int],
    max_in_flight: int,
    report: BatchReport | None = None,
) -> BatchReport:
    """Send ``rate * seconds`` batch jobs at ``rate`` per second and check each answer.

    At most ``max_in_flight`` jobs are outstanding (keep it at the worker's capacity:
    the orchestrator refuses a job beyond it with 503, by design); a job that finds
    them all busy waits and shows up in ``max_lag_ms``. ``report`` (when given) fills in
    as jobs finish, for a caller sampling it meanwhile.
    """
    out = report if report is not None else BatchReport(rate)
    width, height = frame_size
    total = round(rate * seconds)
    slots = asyncio.Semaphore(max_in_flight)
    in_flight = 0
    loop = asyncio.get_running_loop()

    async def one(number: int) -> None:
        nonlocal in_flight
        frame = job_frame(number, width, height)
        started = time.perf_counter()
        try:
            result = await client.asubmit_job(body=frame.tobytes(), content_type=RAW)
            out.latencies_ms.append((time.perf_counter() - started) * 1000)
            problem = check_answer(number, frame, result.status, result.content_type, result.body)
        except ByocLabError as exc:
            problem = f"job {number}: {type(exc).__name__}: {exc}"
        finally:
            in_flight -= 1
            slots.release()
        if problem:
            out.errors.append(problem)
        else:
            out.ok += 1

    tasks: set[asyncio.Task[None]] = set()
    begin = loop.time()
    try:
        for number in range(total):
            due = begin + number / rate
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            out.max_lag_ms = max(out.max_lag_ms, (loop.time() - due) * 1000)
            in_flight += 1
            out.max_in_flight = max(out.max_in_flight, in_flight)
            out.sent += 1
            task = asyncio.create_task(one(number), name=f"load job {number}")
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        out.seconds = loop.time() - begin
    return out


def check_answer(
    number: int, sent: RGBImage, status: int, content_type: str, body: bytes
) -> str | None:
    """Why the answer to job ``number`` is wrong, or None when it is the tinted frame."""
    if status != 200:
        return f"job {number}: HTTP {status}"
    if content_type != RAW:
        return f"job {number}: content type {content_type!r}, expected {RAW}"
    if len(body) != sent.nbytes:
        return f"job {number}: {len(body)} bytes, expected {sent.nbytes}"
    image = np.frombuffer(body, dtype=np.uint8).reshape(sent.shape)
    if (got := read_frame_number(image)) != number:
        return f"job {number}: the answer carries frame number {got}"
    if not np.array_equal(image, tinted(sent)):
        return f"job {number}: pixels differ from the green tint of the frame sent"
    return None


# -- resources --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The process's resources at one moment (``t`` seconds into the run)."""

    t: float
    rss_mb: float
    fds: int
    tasks: int


def rss_mb() -> float:
    """Resident set size of this process in MiB (``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 2**20


def open_fds() -> int:
    """Open file descriptors of this process (``/proc/self/fd``)."""
    return len(os.listdir("/proc/self/fd"))


async def _count_tasks() -> int:
    return len(asyncio.all_tasks()) - 1  # not this one


async def loop_tasks() -> int:
    """Unfinished tasks on byoc_lab's background loop (counted on that loop)."""
    return await get_loop().run_async(_count_tasks())


async def sample(t: float) -> Sample:
    """A :class:`Sample` taken now (the tasks first: that starts the loop if need be)."""
    tasks = await loop_tasks()
    return Sample(t=t, rss_mb=rss_mb(), fds=open_fds(), tasks=tasks)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 with fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return 0.0
    xs = np.array([x for x, _ in points])
    ys = np.array([y for _, y in points])
    return float(np.polyfit(xs, ys, 1)[0])


def floor_slope(samples: Sequence[Sample], metric: str, stretches: int = 4) -> float:
    """Slope per minute of the least ``metric`` in each of ``stretches`` runs of samples."""
    size = max(1, -(-len(samples) // stretches))
    points = []
    for start in range(0, len(samples), size):
        group = samples[start : start + size]
        times = [s.t for s in group]
        points.append((sum(times) / len(times) / 60, min(float(getattr(s, metric)) for s in group)))
    return slope(points)
