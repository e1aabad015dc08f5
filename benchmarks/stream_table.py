"""The live-stream section's table: rows per size, the verdicts, and the notes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .report import Row, Section
from .stream_media import FPS, Clip, tint_of
from .stream_rig import StreamResult, StreamTiming

__all__ = ["P50_TARGET_MS", "Floor", "NotRun", "Outcome", "build_section"]

P50_TARGET_MS = 100.0
"""byoc_lab's p50 latency target at 512x512 (DESIGN.md)."""


@dataclass(frozen=True)
class NotRun:
    """Why a worker has no figures for a size.

    Attributes:
        cell: what its cells show, short (``"not run: no .venv-pytrickle"``).
        detail: the full reason, for the notes.
    """

    cell: str
    detail: str

    @property
    def failed(self) -> bool:
        """The worker was started and failed (rather than not being available)."""
        return self.cell.startswith("failed")


Outcome = StreamResult | NotRun


@dataclass(frozen=True)
class Floor:
    """In-process CPU ms per frame, measured with nothing else running.

    Attributes:
        ours: decode + encode with byoc_lab's worker settings.
        theirs: decode + encode with pytrickle's libx264 settings.
        tint: byoc_lab's green tint ``process()`` alone.
    """

    ours: float
    theirs: float
    tint: float


def _percentile(values: Sequence[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class _Figures:
    """One worker's figures at one size, or the reason it has none (in every cell)."""

    def __init__(self, outcome: Outcome | None) -> None:
        self.result = outcome if isinstance(outcome, StreamResult) else None
        self.why = outcome if isinstance(outcome, NotRun) else NotRun("not run", "not run")
        self.latencies = self.result.latencies_ms() if self.result is not None else []

    def cell(self, value: float | None, digits: int = 1) -> str:
        return _fmt(value, digits) if self.result is not None else self.why.cell

    def p(self, q: int) -> float | None:
        return _percentile(self.latencies, q) if self.latencies else None

    def delivered(self) -> str:
        r = self.result
        return f"{r.delivered}/{r.sent}" if r is not None else self.why.cell

    def after_stop(self) -> str:
        return str(self.result.after_stop) if self.result is not None else self.why.cell

    def fps(self) -> float | None:
        return self.result.output_fps() if self.result is not None else None

    def cpu_per_frame(self) -> float | None:
        """CPU ms per input frame (the worker received every one, even those it dropped)."""
        return self.result.cpu_ms / self.result.sent if self.result is not None else None

    def loop_cpu_per_frame(self) -> float | None:
        """The event-loop (main) thread's share of :meth:`cpu_per_frame`."""
        return self.result.loop_cpu_ms / self.result.sent if self.result is not None else None

    def cpu_per_delivered(self) -> float | None:
        r = self.result
        return r.cpu_ms / r.delivered if r is not None and r.delivered else None


def _verdict(f: _Figures, met: bool) -> str:
    """``met``/``missed``; a run that failed misses, one that could not start has none."""
    if f.result is None:
        return "missed" if f.why.failed else ""
    return "met" if met else "missed"


def build_section(
    clips: Sequence[Clip],
    outcomes: dict[tuple[str, str], Outcome],
    floors: dict[str, Floor],
    timing: StreamTiming,
) -> Section:
    """The section: for each clip size, byoc_lab's figures beside pytrickle's."""
    rows: list[Row] = []
    notes = _method_notes(timing, clips[0].count)
    for clip in clips:
        ours = _Figures(outcomes.get(("byoc_lab", clip.size)))
        theirs = _Figures(outcomes.get(("pytrickle", clip.size)))
        floor = floors[clip.size]
        rows += _rows(clip, ours, theirs, floor)
        notes += _run_notes(clip, ours, theirs)
        notes += _limit_notes(clip.size, ours, floor)
    return Section(
        title=f"Live stream ({FPS} fps H.264 in MPEG-TS, 1 s GOP, green tint)",
        reference_name="pytrickle 0.1.6",
        rows=rows,
        notes=notes,
    )


def _rows(clip: Clip, ours: _Figures, theirs: _Figures, floor: Floor) -> list[Row]:
    size, r = clip.size, ours.result
    all_in = r is not None and r.delivered == r.sent
    p50 = ours.p(50)
    p50_row = Row(f"p50 latency, {size} (ms)", ours.cell(p50, 0), theirs.cell(theirs.p(50), 0))
    if size == "512x512":
        met = p50 is not None and p50 < P50_TARGET_MS
        p50_row = Row(
            p50_row.metric,
            p50_row.byoc_lab,
            p50_row.reference,
            f"< {P50_TARGET_MS:.0f}",
            _verdict(ours, met),
            "" if met or p50 is None else "see the notes",
        )
    return [
        Row(
            f"frames delivered, {size}",
            ours.delivered(),
            theirs.delivered(),
            f"{clip.count}/{clip.count}",
            _verdict(ours, all_in),
            "" if all_in or r is None else _missing(r),
        ),
        Row(
            f"delivered only after the input stopped, {size}",
            ours.after_stop(),
            theirs.after_stop(),
            note="see the notes for when the input stops",
        ),
        p50_row,
        Row(f"p95 latency, {size} (ms)", ours.cell(ours.p(95), 0), theirs.cell(theirs.p(95), 0)),
        Row(
            f"output fps, {size}",
            ours.cell(ours.fps()),
            theirs.cell(theirs.fps()),
            note=f"input {FPS} fps",
        ),
        _cpu_row(size, ours, theirs, floor),
        Row(
            f"codec floor: decode + encode alone, {size} (CPU ms/frame)",
            _fmt(floor.ours, 2),
            _fmt(floor.theirs, 2),
            note=f"each worker's own libx264 settings; byoc_lab's tint alone {floor.tint:.2f}",
        ),
    ]


def _cpu_row(size: str, ours: _Figures, theirs: _Figures, floor: Floor) -> Row:
    mine, ref = ours.cpu_per_frame(), theirs.cpu_per_frame()
    target, verdict = "≤ ½ pytrickle", "missed" if ours.why.failed else ""
    notes = []
    if mine is not None and ref is not None:
        target = f"≤ {ref / 2:.1f}"
        verdict = "met" if mine <= ref / 2 else "missed"
        notes.append(f"{mine / ref:.2f}x pytrickle")
    elif mine is not None:
        notes.append("no pytrickle figure to compare")
    if mine is not None:
        rest = mine - floor.ours - floor.tint
        notes.append(f"codec floor + tint {floor.ours + floor.tint:.1f}, the rest {rest:.1f}")
        loops = [f"byoc_lab {_fmt(ours.loop_cpu_per_frame())}"]
        if ref is not None:
            loops.append(f"pytrickle {_fmt(theirs.loop_cpu_per_frame())}")
        notes.append("event-loop thread " + ", ".join(loops))
    if theirs.result is not None and theirs.result.delivered < theirs.result.sent:
        notes.append(f"pytrickle per delivered frame {_fmt(theirs.cpu_per_delivered())}")
    return Row(
        f"worker CPU per frame, {size} (ms)",
        ours.cell(mine),
        theirs.cell(ref),
        target,
        verdict,
        "; ".join(notes),
    )


def _missing(result: StreamResult) -> str:
    missing = sorted(set(range(result.sent)) - set(result.reception.arrivals))
    shown = ", ".join(str(n) for n in missing[:8]) + (" …" if len(missing) > 8 else "")
    error = f"; receiver: {result.receive_error}" if result.receive_error else ""
    return f"missing frames {shown}{error}"


def _method_notes(timing: StreamTiming, count: int) -> list[str]:
    return [
        f"Input: {count} frames ({count / FPS:.0f} s) of byoc_lab's numbered moving gradient, "
        "H.264 (libx264 superfast, CRF 23) in MPEG-TS, 1 s GOP = one trickle segment a "
        "second, encoded beforehand; each frame's bytes are published at its capture time "
        f"({FPS} fps, live) with byoc_lab's TricklePublisher. Same input, same byoc_lab "
        "trickle server (127.0.0.1, in the benchmark process) for both workers; each "
        "worker runs alone, in a fresh process, and first streams a 1 s warm-up clip that "
        "is not measured (one-time costs: byoc_lab imports PyAV and opens its HTTP client "
        "on the first stream, where pytrickle loads everything at start-up).",
        "Both streams start with params width/height = the input's and max_framerate 60: "
        "pytrickle drops frames that arrive at exactly its max_framerate (24 by default), "
        "so 60 keeps every 30 fps frame; byoc_lab keeps all frames at either.",
        "Latency = when the receiver's progressive decoder (fed each chunk as it arrives) "
        "returned the frame, identified by its burned-in number, minus when that frame's "
        f"bytes were sent. The input closes {timing.linger * 1000:.0f} ms after its last "
        "frame; frames arriving after that are counted as delivered only after the input "
        f"stopped; the receiver waits at most {timing.straggler_wait:.0f} s after it.",
        "Worker CPU = utime + stime of the worker process (/proc/<pid>/stat, 10 ms ticks) "
        "from the first input frame to the last output frame's arrival, divided by the "
        "input frames (a worker that drops frames still received them; its cost per "
        "delivered frame is in the row's note; the event-loop thread's share, read from "
        "/proc/<pid>/task/<pid>/stat, too).",
        "Codec floor = the same input decoded progressively by byoc_lab's StreamDecoder and "
        "re-encoded by its SegmentEncoder in this process, nothing else running: "
        "byoc_lab's column with its worker's output settings (libx264 ultrafast, CRF 27, "
        "2 s GOP), pytrickle's column with pytrickle's (superfast, CRF 23, 2 s GOP).",
        "Figures from a shared 2-core machine are noisy; compare columns of the same run.",
    ]


def _run_notes(clip: Clip, ours: _Figures, theirs: _Figures) -> list[str]:
    notes = []
    for name, f in (("byoc_lab", ours), ("pytrickle", theirs)):
        r = f.result
        if r is None:
            notes.append(f"{name} {clip.size}: {f.why.detail}.")
            continue
        seen = r.reception
        extra = [f"{seen.frames} output frames decoded"]
        if seen.decode_errors:
            extra.append(f"{seen.decode_errors} undecodable stretches")
        if seen.unidentified or seen.duplicates:
            extra.append(f"{seen.unidentified} without a number, {seen.duplicates} repeated")
        tint = tint_of(seen, clip)
        if tint is not None:
            extra.append(f"green {tint[0]:+.0f}, red {tint[1]:+.0f} against the input")
        extra.append(f"input sent at most {r.send_late_ms:.0f} ms late")
        if r.receive_error:
            extra.append(f"stopped early: {r.receive_error}")
        notes.append(f"{name} {clip.size}: " + ", ".join(extra) + ".")
    return notes


def _limit_notes(size: str, ours: _Figures, floor: Floor) -> list[str]:
    """What limits byoc_lab where it missed a target, from the figures measured."""
    r = ours.result
    if r is None:
        return []
    notes = []
    p50 = ours.p(50)
    if size == "512x512" and p50 is not None and p50 >= P50_TARGET_MS:
        notes.append(
            f"byoc_lab p50 {p50:.0f} ms at {size} misses {P50_TARGET_MS:.0f} ms although "
            f"decode + encode take {floor.ours:.1f} ms and the tint {floor.tint:.1f} ms a "
            "frame: the rest is waiting (for CPU on this machine, or in the pipeline's queues)."
        )
    if r.delivered < r.sent:
        notes.append(
            f"byoc_lab lost {r.sent - r.delivered} of {r.sent} frames at {size}: {_missing(r)}."
        )
    return notes
