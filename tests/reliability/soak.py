"""Soak: a 30 fps live stream for minutes, and 200 batch jobs/s, through a LocalNetwork.

``make soak`` (10 minutes; ``make soak SOAK_MINUTES=1`` for a quick check) runs::

    python -m tests.reliability.soak --minutes 10

One worker (green tint, capacity 17: the stream and 16 batch jobs in flight) behind
an orchestrator and a gateway, all on 127.0.0.1 in this process, with one
:class:`~byoc_lab.GatewayClient`. From the start, side by side:

- a live stream of ``--minutes`` at 30 fps (320x240, frame numbers burned in),
  published in real time; each output frame's number and green tint are read back;
- ``--batch-rate`` raw 64x48 batch jobs per second for ``--batch-seconds`` (default
  200/s for 60 s), every answer checked (see :mod:`.loadgen`).

Every ``--interval`` seconds it samples the process's RSS, open file descriptors
(``/proc/self/fd``), the tasks on byoc_lab's background loop, and frames sent,
delivered and lost, and prints a row. It passes (exit 0) when every frame came back
in order and tinted, every batch job was answered correctly, and nothing grows: over
the second half of the samples the floor of each metric (the least value of each
quarter of them: jobs and frames in flight lift single samples, a leak lifts the
floor) rises by less than the bounds below, and after the network stops the tasks
and descriptors are back to where they started.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

from byoc_lab import LocalNetwork
from byoc_lab.builtins import GreenTint
from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.runtime import get_loop
from byoc_lab.sources import SyntheticSource

from .loadgen import BOOST, GREY, BatchReport, Sample, batch_load, floor_slope, sample

FPS = 30.0
STREAM_SIZE = (320, 240)
JOB_SIZE = (64, 48)
JOBS_IN_FLIGHT = 16
# Growth allowed over the second half of the run, per minute of it (fitted slope).
RSS_MB_PER_MIN = 1.0
FDS_PER_MIN = 1.0
TASKS_PER_MIN = 1.0
# Noise floors for short runs: a fitted change smaller than this is not growth.
RSS_FLOOR_MB, FDS_FLOOR, TASKS_FLOOR = 8.0, 4.0, 4.0


@dataclass
class Delivery:
    """What came back on the stream: numbers in order, gaps, tint failures."""

    received: int = 0
    next_number: int = 0
    lost: list[tuple[int, int]] = field(default_factory=list)  # (first missing, how many)
    out_of_order: list[int] = field(default_factory=list)
    untinted: list[int] = field(default_factory=list)
    first_at: float | None = None
    max_lag_s: float = 0.0  # how far the output trailed real time at worst

    def take(self, image: RGBImage) -> None:
        now = time.monotonic()
        number = read_frame_number(image)
        if self.first_at is None:
            self.first_at = now
        self.received += 1
        self.max_lag_s = max(self.max_lag_s, now - self.first_at - (self.received - 1) / FPS)
        if number is None or number < self.next_number:
            self.out_of_order.append(-1 if number is None else number)
            return
        if number > self.next_number:
            self.lost.append((self.next_number, number - self.next_number))
        self.next_number = number + 1
        bottom = image[image.shape[0] // 2 :].reshape(-1, 3).mean(axis=0)
        if abs(bottom[1] - (GREY + BOOST)) > 6 or abs(bottom[0] - GREY) > 6:
            self.untinted.append(number)

    @property
    def lost_frames(self) -> int:
        return sum(count for _, count in self.lost)


@dataclass
class Row:
    sample: Sample
    sent: int
    delivered: int
    lost: int
    jobs: int
    job_errors: int

    def __str__(self) -> str:
        s = self.sample
        return (
            f"{s.t:7.0f} {s.rss_mb:8.1f} {s.fds:5d} {s.tasks:6d} {self.sent:7d} "
            f"{self.delivered:9d} {self.lost:5d} {self.jobs:7d} {self.job_errors:6d}"
        )


HEADER = "    t/s   RSS/MB   fds  tasks  frames delivered  lost    jobs errors"


async def soak(minutes: float, batch_rate: float, batch_seconds: float, interval: float) -> bool:
    """Run the soak, print the table and the verdict; True when it passed."""
    frames = round(minutes * 60 * FPS)
    width, height = STREAM_SIZE
    source = SyntheticSource(
        "solid", width=width, height=height, color=(GREY, GREY, GREY), fps=FPS, count=frames
    )
    baseline = await sample(0)
    delivery = Delivery()
    batch = BatchReport(batch_rate)
    rows: list[Row] = []
    print(f"soak: {minutes:g} min stream at {FPS:g} fps ({frames} frames, {STREAM_SIZE}),")
    print(f"      {batch_rate:g} batch jobs/s for {batch_seconds:g} s; a row every {interval:g} s")
    print(HEADER, flush=True)
    began = time.monotonic()
    async with LocalNetwork(
        GreenTint(), capability="soak", capacity=JOBS_IN_FLIGHT + 1, frame_size=JOB_SIZE
    ) as net:
        client = net.client
        stream = await client.astart_stream(enable_data=False, max_queued_frames=10 * int(FPS))

        async def read() -> None:
            async for image in stream.aframes(timeout=30):
                delivery.take(image)

        reader = asyncio.create_task(read(), name="soak reader")
        jobs = asyncio.ensure_future(
            get_loop().run_async(
                batch_load(
                    client,
                    rate=batch_rate,
                    seconds=batch_seconds,
                    frame_size=JOB_SIZE,
                    max_in_flight=JOBS_IN_FLIGHT,
                    report=batch,
                )
            )
        )
        try:
            await stream.apublish(source, fps=FPS)
            while not (reader.done() and jobs.done()):
                await asyncio.wait({reader, jobs}, timeout=interval)
                stats = stream.stats()
                rows.append(
                    Row(
                        await sample(time.monotonic() - began),
                        stats["frames_sent"],
                        delivery.received,
                        delivery.lost_frames,
                        batch.ok + len(batch.errors),
                        len(batch.errors),
                    )
                )
                print(rows[-1], flush=True)
            await reader
            await jobs
            sent = await stream.await_published(10)
            stats = stream.stats()
        finally:
            reader.cancel()
            jobs.cancel()
            await asyncio.gather(reader, jobs, return_exceptions=True)
            await stream.astop()
    ended = await sample(time.monotonic() - began)
    for _ in range(240):  # a connection's lingering close may hold a task for up to 10 s
        if ended.tasks <= baseline.tasks and ended.fds <= baseline.fds + 2:
            break
        await asyncio.sleep(0.05)
        ended = await sample(time.monotonic() - began)
    print(f"after stop: {ended}  (before start: {baseline})")
    jobs_planned = round(batch_rate * batch_seconds)
    return verdict(frames, jobs_planned, sent, stats, delivery, batch, rows, baseline, ended)


def verdict(
    frames: int,
    jobs: int,
    sent: int,
    stats: dict[str, object],
    delivery: Delivery,
    batch: BatchReport,
    rows: list[Row],
    baseline: Sample,
    ended: Sample,
) -> bool:
    """Print each check with its numbers; True when all hold."""
    checks: list[tuple[bool, str]] = []
    got = delivery.received
    checks.append(
        (
            sent == frames and got == frames and not delivery.lost and not delivery.out_of_order,
            f"stream: {sent}/{frames} frames sent, {got} delivered in order; lost "
            f"{delivery.lost_frames} (gaps at {delivery.lost[:5]}), out of order "
            f"{delivery.out_of_order[:5]}; client feed dropped {stats['frames_dropped']}, "
            f"decode errors {stats['decode_errors']}, output errors {stats['output_errors']}; "
            f"output trailed real time by at most {delivery.max_lag_s:.2f} s",
        )
    )
    checks.append((not delivery.untinted, f"tint: untinted frames {delivery.untinted[:5]}"))
    checks.append(
        (not batch.errors and batch.ok == batch.sent == jobs, f"batch: {batch.summary()}")
    )
    for problem in batch.errors[:5]:
        print(f"  batch error: {problem}")
    running = rows[:-1] if len(rows) > 2 else rows  # the last row comes after the end
    half = [row.sample for row in running[len(running) // 2 :]]
    span_min = (half[-1].t - half[0].t) / 60 if len(half) > 1 else 0.0
    for name, per_min, floor in (
        ("rss_mb", RSS_MB_PER_MIN, RSS_FLOOR_MB),
        ("fds", FDS_PER_MIN, FDS_FLOOR),
        ("tasks", TASKS_PER_MIN, TASKS_FLOOR),
    ):
        rate = floor_slope(half, name)
        change = rate * span_min
        checks.append(
            (
                rate <= per_min or change <= floor,
                f"{name}: second half ({len(half)} samples, {span_min:.1f} min) floor slope "
                f"{rate:+.2f}/min (bound {per_min:g}/min, or a change under {floor:g}); "
                f"first {getattr(half[0], name):.1f}, last {getattr(half[-1], name):.1f}",
            )
        )
    checks.append(
        (
            ended.tasks <= baseline.tasks and ended.fds <= baseline.fds + 2,
            f"after stop: {ended.tasks} tasks (before: {baseline.tasks}), {ended.fds} fds "
            f"(before: {baseline.fds})",
        )
    )
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    passed = all(ok for ok, _ in checks)
    print("soak passed" if passed else "soak FAILED")
    return passed


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.reliability.soak [--minutes M] …``; exit 0 when the soak passed."""
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="stream length (10)")
    parser.add_argument("--batch-rate", type=float, default=200.0, help="jobs/s (200)")
    parser.add_argument("--batch-seconds", type=float, default=60.0, help="seconds of jobs (60)")
    parser.add_argument("--interval", type=float, help="seconds between samples (run / 40, >= 2)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.batch_rate <= 0 or args.batch_seconds <= 0:
        parser.error("--minutes, --batch-rate and --batch-seconds must be positive")
    longest = max(args.minutes * 60, args.batch_seconds)
    interval = args.interval or max(2.0, longest / 40)
    passed = asyncio.run(soak(args.minutes, args.batch_rate, args.batch_seconds, interval))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
