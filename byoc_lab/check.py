"""Checking a processor on sample frames, without a browser or a server.

``check_processor(GreenTint(), frames=30)`` initializes the processor, runs it on
frames from a source, validates every output and reports per-frame timing and every
error with its frame index; then it shuts the processor down. It never raises for a
bad frame: errors are collected so one report shows them all.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import ByocLabError
from .frames import Frame
from .loader import as_processor
from .runner import ProcessorRunner
from .runtime import run_sync
from .sources import FrameSource, SyntheticSource, open_source

__all__ = ["CheckReport", "FrameFailure", "acheck_processor", "check_processor"]


@dataclass(frozen=True)
class FrameFailure:
    """One frame that failed: its index and the error text."""

    index: int
    error: str


@dataclass
class CheckReport:
    """What :func:`check_processor` found.

    Attributes:
        processor: description of the processor (name, input kind, sync/async).
        source: description of the frame source.
        timings_ms: ``process()`` wall time for each successful frame, in order.
        errors: frames that raised or returned a malformed frame.
        output_shape: ``(height, width, 3)`` of the last good output, if any.
        last_input: the last input frame (RGB), for display.
        last_output: the last good output frame (RGB), for display.
    """

    processor: str
    source: str
    timings_ms: list[float] = field(default_factory=list)
    errors: list[FrameFailure] = field(default_factory=list)
    output_shape: tuple[int, ...] | None = None
    last_input: Any = None
    last_output: Any = None

    @property
    def frames(self) -> int:
        """Frames attempted."""
        return len(self.timings_ms) + len(self.errors)

    @property
    def ok(self) -> bool:
        """True when at least one frame ran and none failed."""
        return self.frames > 0 and not self.errors

    def percentile_ms(self, q: float) -> float:
        """``q``-th percentile (0..100) of process() time in ms (nan if no frame passed)."""
        if not self.timings_ms:
            return float("nan")
        if len(self.timings_ms) == 1:
            return self.timings_ms[0]
        cuts = statistics.quantiles(self.timings_ms, n=100, method="inclusive")
        return cuts[min(98, max(0, round(q) - 1))]

    @property
    def fps(self) -> float:
        """Frames per second ``process()`` alone could sustain (1000 / mean ms)."""
        if not self.timings_ms:
            return 0.0
        return 1000.0 / statistics.fmean(self.timings_ms)

    def table(self) -> str:
        """A plain-text report, as the CLI prints it."""
        rows = [
            ("processor", self.processor),
            ("source", self.source),
            ("frames", f"{self.frames} ({len(self.timings_ms)} ok, {len(self.errors)} failed)"),
            ("output", "x".join(map(str, self.output_shape)) if self.output_shape else "-"),
            ("p50 ms", f"{self.percentile_ms(50):.2f}"),
            ("p95 ms", f"{self.percentile_ms(95):.2f}"),
            ("fps", f"{self.fps:.1f}"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        for err in self.errors[:10]:
            lines.append(f"frame {err.index}: {err.error}")
        if len(self.errors) > 10:
            lines.append(f"... and {len(self.errors) - 10} more failed frames")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


async def acheck_processor(
    processor: Any,
    source: FrameSource | str | None = None,
    *,
    frames: int = 30,
    width: int = 640,
    height: int = 480,
    frame_timeout: float | None = 10.0,
) -> CheckReport:
    """Async twin of :func:`check_processor`."""
    runner = ProcessorRunner(as_processor(processor))
    src = _as_source(source, width, height)
    report = CheckReport(processor=runner.describe(), source=src.describe())
    await runner.initialize()
    try:
        with src:
            for n, frame in enumerate(src):
                if n >= frames:
                    break
                await _check_one(runner, frame, report, frame_timeout)
    finally:
        await runner.shutdown()
    return report


def check_processor(
    processor: Any,
    source: FrameSource | str | None = None,
    *,
    frames: int = 30,
    width: int = 640,
    height: int = 480,
    frame_timeout: float | None = 10.0,
) -> CheckReport:
    """Run ``processor`` on ``frames`` frames and report timing and errors.

    Args:
        processor: an instance, a class, or a spec such as ``"file.py:Class"``.
        source: a :class:`FrameSource`, a source text (``"synthetic"``, a file, …), or
            None for synthetic colour bars.
        frames: how many frames to run.
        width: frame width for sources created here.
        height: frame height for sources created here.
        frame_timeout: seconds one ``process()`` call may take before it counts as failed.

    Safe to call in a notebook cell: it runs on byoc_lab's background loop.
    """
    coro = acheck_processor(
        processor, source, frames=frames, width=width, height=height, frame_timeout=frame_timeout
    )
    return run_sync(coro)


async def _check_one(
    runner: ProcessorRunner, frame: Frame, report: CheckReport, limit: float | None
) -> None:
    report.last_input = frame.image
    image = frame.image.copy()
    start = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            out = await runner.process(image, index=frame.index)
    except ByocLabError as exc:
        report.errors.append(FrameFailure(frame.index, str(exc)))
        return
    except TimeoutError:
        report.errors.append(FrameFailure(frame.index, f"process() took longer than {limit} s"))
        return
    except Exception as exc:  # noqa: BLE001 - user code may raise anything; reported per frame
        report.errors.append(
            FrameFailure(frame.index, f"process() raised {type(exc).__name__}: {exc}")
        )
        return
    report.timings_ms.append((time.perf_counter() - start) * 1000.0)
    report.output_shape = tuple(out.shape)
    report.last_output = out


def _as_source(source: FrameSource | str | None, width: int, height: int) -> FrameSource:
    if source is None:
        return SyntheticSource("bars", width=width, height=height)
    if isinstance(source, str):
        return open_source(source, width=width, height=height)
    return source
