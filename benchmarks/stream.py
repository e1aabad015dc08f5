"""Live stream: byoc_lab's worker beside pytrickle 0.1.6's, and the codec floor.

Both workers run the green tint in their own process (byoc_lab: ``python -m
byoc_lab.cli serve byoc_lab.builtins:GreenTint``; pytrickle: ``tests/peers/
pytrickle_worker.py`` under ``.venv-pytrickle``), one fresh process per run, one run at
a time. Each gets the same ``/stream/start`` body an orchestrator sends (subscribe,
publish, control and events URLs on byoc_lab's trickle server on 127.0.0.1; params
``width``/``height`` = the input's, ``max_framerate`` 60) and the same input: a
numbered moving gradient encoded once as H.264 in MPEG-TS with a 1 s GOP, each
frame's bytes published at its capture time, 30 frames a second. A receiver in the
benchmark process decodes the output channel as its bytes arrive and notes when each
frame number first comes out; latency is that moment minus the frame's send time.
The codec floor decodes the same input and re-encodes it in this process with each
worker's own libx264 settings, with nothing else running.

Helpers: :mod:`.stream_media` (clip, receiver, floors), :mod:`.stream_workers` (worker
processes), :mod:`.stream_rig` (trickle server, one stream), :mod:`.stream_table` (rows
and notes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from byoc_lab.errors import ByocLabError
from byoc_lab.media import EncoderConfig
from byoc_lab.worker.transcode import DEFAULT_ENCODER

from .report import Section
from .stream_media import FPS, Clip, codec_floor_ms, make_clip, tint_ms
from .stream_rig import StreamTiming, TrickleHost, run_stream
from .stream_table import Floor, NotRun, Outcome, build_section
from .stream_workers import BenchError, worker_running

__all__ = ["run"]

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-pytrickle" / "bin" / "python"
PEER_WORKER = ROOT / "tests" / "peers" / "pytrickle_worker.py"

PYTRICKLE_ENCODER = EncoderConfig(preset="superfast", crf=23, gop_seconds=2.0)
"""pytrickle 0.1.6's libx264 settings (its encoder.py: superfast, zerolatency, default
CRF 23, a keyframe every GOP_SECS = 2 s), for its codec floor."""

LINGER_S = 0.2
"""The input stays open this long after its last frame, then closes: frames arriving
after the close are the ones that waited for the stream to stop."""

WORKERS = ("byoc_lab", "pytrickle")

T = TypeVar("T")


def run(quick: bool = False) -> Section:
    """Measure both workers at 512x512 (and 1280x720 unless ``quick``).

    ``quick``: 1 s of input at 512x512 only, 3 s for stragglers, no ``make peers``
    (pytrickle's rows say "not run" when its venv is missing). Otherwise 10 s of input
    per worker and size and 6 s for stragglers; ``make peers`` builds pytrickle's venv
    if needed. Every worker process is stopped before this returns.
    """
    sizes = [(512, 512)] if quick else [(512, 512), (1280, 720)]
    count = FPS * (1 if quick else 10)
    timing = StreamTiming(linger=LINGER_S, straggler_wait=3.0 if quick else 6.0)
    clips = [make_clip(w, h, count) for w, h in sizes]
    peer = _peer_venv(quick)
    load_before = os.getloadavg()[0]
    outcomes = _in_fresh_loop(_measure(clips, timing, peer))
    load_after = os.getloadavg()[0]
    floors = {
        clip.size: Floor(
            codec_floor_ms(clip, DEFAULT_ENCODER),
            codec_floor_ms(clip, PYTRICKLE_ENCODER),
            tint_ms(clip),
        )
        for clip in clips
    }
    section = build_section(clips, outcomes, floors, timing)
    section.notes.append(
        f"1-minute load average {load_before:.1f} before the streams, {load_after:.1f} after "
        f"({os.cpu_count()} cores): above the core count, every figure here carries CPU "
        "contention from other work on the machine."
    )
    return section


def _peer_venv(quick: bool) -> NotRun | None:
    """None when pytrickle can run, else why not (``make peers`` is tried unless quick)."""
    if PEER_PYTHON.exists():
        return None
    if quick:
        return NotRun("not run: no .venv-pytrickle", "pytrickle's venv is missing (make peers)")
    result = subprocess.run(
        ["make", "-s", "peers"], cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False
    )
    if result.returncode != 0 or not PEER_PYTHON.exists():
        tail = " ".join(result.stderr.split())[-300:]
        return NotRun("not run: make peers failed", f"make peers failed: {tail}")
    return None


def _in_fresh_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` with :func:`asyncio.run`, in a thread if this one has a loop running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _argv(worker: str) -> Callable[[int], list[str]]:
    """The worker's command line for a port."""
    if worker == "byoc_lab":
        return lambda port: [
            sys.executable, "-m", "byoc_lab.cli", "serve", "byoc_lab.builtins:GreenTint",
            "--port", str(port), "--capability", "green-tint-cpu",
        ]  # fmt: skip
    return lambda port: [str(PEER_PYTHON), str(PEER_WORKER), str(port)]


async def _measure(
    clips: Sequence[Clip], timing: StreamTiming, peer: NotRun | None
) -> dict[tuple[str, str], Outcome]:
    """Each worker on each clip, one fresh worker process per run, one run at a time."""
    outcomes: dict[tuple[str, str], Outcome] = {}
    failures = (BenchError, ByocLabError, aiohttp.ClientError, OSError, TimeoutError)
    warm_ups = {clip.size: make_clip(clip.width, clip.height, FPS) for clip in clips}
    warm_timing = StreamTiming(linger=timing.linger, straggler_wait=2.0)
    async with aiohttp.ClientSession() as http, TrickleHost() as host:
        for worker in WORKERS:
            for clip in clips:
                key = (worker, clip.size)
                if worker == "pytrickle" and peer is not None:
                    outcomes[key] = peer
                    continue
                try:
                    async with worker_running(http, worker, _argv(worker)) as process:
                        # Steady state: one-time costs (lazy imports, the HTTP client, codec
                        # set-up) are paid by a short stream that is not measured.
                        await run_stream(http, host, process, warm_ups[clip.size], warm_timing)
                        outcomes[key] = await run_stream(http, host, process, clip, timing)
                except failures as exc:
                    detail = f"{type(exc).__name__}: {exc}"[:400]
                    outcomes[key] = NotRun("failed (see notes)", detail)
    return outcomes
