"""Preview: frames per second a real browser displays, counted on the page.

One JupyterLab (from the venv) and one headless Debian Chromium (Playwright, the browser
tests' harness in ``tests/browser``) open one notebook. Its cells create a
:class:`~byoc_lab.preview.PreviewEngine` on a 640x480 :class:`~byoc_lab.SyntheticSource`
and a :class:`~byoc_lab.widgets.frame_view.FrameView` for each configuration, paused.
Then, one configuration at a time: its view is scrolled into sight, the engine plays,
and after a warm-up a ``MutationObserver`` on the view's root records the moment of
every change of ``data-drawn`` (the view bumps it each time it paints a frame on its
canvases) for a steady window. Displayed fps is (draws - 1) / (last draw - first draw),
on the page's clock; the engine's processed fps, ``process()`` p50/p95 and the
delivery's dropped count are read from the kernel (``engine.stats()``,
``view.delivery_stats()``) at the window's ends. The engine is then stopped, so only
one configuration loads the machine at a time.

The synthetic source is paced at its nominal rate (30 fps), so 30 is what a perfect
display path shows; a run with the source at 60 fps shows what the display path does
beyond it. The view shows both panes (input and output), as the notebook's preview
does: two JPEG encodes (kernel) and two decodes and paints (browser) per frame.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from benchmarks.report import Row, Section

# The browser tests' harness, imported the way the tests import their helpers (``tests/``
# on the path, as pytest puts it there): one module name per file, which mypy needs.
_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from browser.chromium import VIEWPORT, chromium_problem, launched_chromium  # noqa: E402
from browser.jupyter import running_jupyterlab, write_notebook  # noqa: E402
from browser.page import LabPage, wait_until  # noqa: E402

__all__ = ["run"]

TITLE = "Preview (JupyterLab + Chromium, 640x480 JPEG, both panes)"
REFERENCE = "processed by the engine"
TARGET_FPS = 30.0  # DESIGN.md: >= 30 fps at 640x480 in a real browser (the source's rate)
CPU_BOUND = 0.9  # share of all cores busy from which a missed target is put down to CPU


@dataclass(frozen=True)
class Config:
    """One measured configuration: a processor, a source rate, frames in flight."""

    key: str
    processor: str  # the class name in byoc_lab
    source_fps: float
    in_flight: int

    @property
    def label(self) -> str:
        """E.g. ``GreenTint, 1 in flight, 60 fps source``."""
        parts = [self.processor, f"{self.in_flight} in flight"]
        if self.source_fps != TARGET_FPS:
            parts.append(f"{self.source_fps:g} fps source")
        return ", ".join(parts)

    @property
    def has_target(self) -> bool:
        """The target applies to the default view (two in flight) on the 30 fps source."""
        return self.in_flight == 2 and self.source_fps == TARGET_FPS


CONFIGS = [
    Config("noop", "Passthrough", 30.0, 2),
    Config("tint", "GreenTint", 30.0, 2),
    Config("noop1", "Passthrough", 30.0, 1),
    Config("tint1", "GreenTint", 30.0, 1),
    Config("fast", "Passthrough", 60.0, 2),
]

SETUP = """\
import json, os, time
from byoc_lab import GreenTint, Passthrough, SyntheticSource
from byoc_lab.preview import PreviewEngine
from byoc_lab.widgets.frame_view import FrameView

RUNS = {}

def bench_view(key, processor, fps, in_flight):
    source = SyntheticSource("bars", width=640, height=480, fps=fps)
    engine = PreviewEngine(processor, source, size=(640, 480))
    view = FrameView(max_in_flight=in_flight)  # fed on play: no 2 s wait for a still
    RUNS[key] = (engine, view)
    return view

def bench_play(key):
    engine, view = RUNS[key]
    view.connect(engine)
    engine.play()

def bench_snapshot(key):
    engine, view = RUNS[key]
    s = engine.stats()
    d = view.delivery_stats()
    print(json.dumps({
        "t": time.monotonic(), "pid": os.getpid(), "frames": s.frames, "p50": s.process_p50_ms,
        "p95": s.process_p95_ms, "skipped": s.skipped, "errors": s.errors,
        "sent": d.sent if d else 0, "acked": d.acked if d else 0,
        "dropped": d.dropped if d else 0, "expired": d.expired if d else 0,
    }))
"""

VIEW_CELL = "bench_view({key!r}, {processor}(), {fps!r}, {in_flight})"

# Record the page-clock time of every data-drawn change of view ``i`` (DOM order).
OBSERVE = """(i) => {
  const el = document.querySelectorAll('.byoc-frame-view')[i];
  const times = [];
  const observer = new MutationObserver((records) => {
    for (const r of records) times.push(performance.now());
  });
  observer.observe(el, { attributes: true, attributeFilter: ['data-drawn'] });
  window.__byocBench = { observer, times, drawn: Number(el.dataset.drawn) };
}"""

COLLECT = """(i) => {
  const el = document.querySelectorAll('.byoc-frame-view')[i];
  const bench = window.__byocBench;
  bench.observer.disconnect();
  return { times: bench.times, drawn: Number(el.dataset.drawn) - bench.drawn };
}"""

DRAWN = "(i) => Number(document.querySelectorAll('.byoc-frame-view')[i].dataset.drawn)"


@dataclass(frozen=True)
class Measured:
    """What one configuration showed over the steady window."""

    displayed_fps: float
    draws: int
    interval_p95_ms: float
    processed_fps: float
    p50_ms: float | None
    p95_ms: float | None
    dropped: int
    errors: int
    cpu_ms: dict[str, float]  # CPU per displayed frame: kernel, server, browser
    machine_busy: float  # share of all cores busy during the window (every process)
    own_busy: float  # share of all cores used by this run's kernel, server and browser


def run(quick: bool = False) -> Section:
    """Measure every configuration in one JupyterLab and one Chromium (see the module)."""
    warmup, window = (0.5, 1.0) if quick else (3.0, 8.0)
    section = Section(TITLE, REFERENCE)
    problem = chromium_problem()
    if problem is not None:
        section.notes.append(f"not measured: {problem}")
        return section
    results = _measure(warmup, window)
    section.rows += [_fps_row(config, results) for config in CONFIGS]
    for config in (c for c in CONFIGS if c.has_target):
        section.rows += [_process_row(config, results[config.key])]
    for config in (c for c in CONFIGS if c.has_target):
        section.rows += [_cpu_row(config, results[config.key])]
    section.notes += _notes(results, warmup, window, quick)
    return section


def _measure(warmup: float, window: float) -> dict[str, Measured]:
    results: dict[str, Measured] = {}
    with (
        tempfile.TemporaryDirectory(prefix="byoc-bench-preview-") as tmp,
        running_jupyterlab(Path(tmp) / "lab") as lab,
        sync_playwright() as playwright,
        launched_chromium(playwright) as browser,
    ):
        cells = [SETUP] + [
            VIEW_CELL.format(
                key=c.key, processor=c.processor, fps=c.source_fps, in_flight=c.in_flight
            )
            for c in CONFIGS
        ]
        write_notebook(lab.root / "preview_bench.ipynb", cells)
        context = browser.new_context(viewport=VIEWPORT)
        try:
            context.set_default_timeout(30_000)
            page = LabPage(context.new_page(), lab, Path(tmp))
            page.open_notebook("preview_bench.ipynb")
            page.run_all()
            wait_until(
                lambda: page.page.locator(".byoc-frame-view").count() == len(CONFIGS) or None,
                timeout=30,
                what=f"{len(CONFIGS)} frame views on the page",
            )
            for index, config in enumerate(CONFIGS):
                results[config.key] = _measure_one(page, index, config, warmup, window)
        finally:
            context.close()
            lab.shutdown_kernels()
    return results


def _measure_one(
    page: LabPage, index: int, config: Config, warmup: float, window: float
) -> Measured:
    """Play one engine, warm up, observe its view for ``window`` seconds, stop it."""
    page.page.locator(".byoc-frame-view").nth(index).scroll_into_view_if_needed()
    key = repr(config.key)
    page.execute(f"bench_play({key})", timeout=60)
    try:
        wait_until(
            lambda: page.page.evaluate(DRAWN, index) > 0 or None,
            timeout=30,
            what=f"the first frame drawn by the {config.label} view",
        )
        time.sleep(warmup)
        start = _snapshot(page, key)
        cpu_start, busy_start = _our_cpu(start["pid"]), _machine_cpu()
        began = time.monotonic()
        page.page.evaluate(OBSERVE, index)
        time.sleep(window)
        seen: dict[str, Any] = page.page.evaluate(COLLECT, index)
        cpu_end, busy_end = _our_cpu(start["pid"]), _machine_cpu()
        elapsed = time.monotonic() - began
        end = _snapshot(page, key)
    finally:
        page.execute(f"RUNS[{key}][0].stop()", timeout=30)
    times = [float(t) for t in seen["times"]]
    if len(times) < 2 or len(times) != seen["drawn"]:
        raise AssertionError(
            f"the {config.label} view drew {seen['drawn']} frames in {window} s, "
            f"{len(times)} of them observed"
        )
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    used = {group: cpu_end[group] - cpu_start[group] for group in CPU_GROUPS}
    return Measured(
        displayed_fps=(len(times) - 1) * 1000.0 / (times[-1] - times[0]),
        draws=len(times),
        interval_p95_ms=gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))],
        processed_fps=(end["frames"] - start["frames"]) / (end["t"] - start["t"]),
        p50_ms=end["p50"],
        p95_ms=end["p95"],
        dropped=end["dropped"] - start["dropped"],
        errors=end["errors"],
        cpu_ms={group: 1000.0 * used[group] / len(times) for group in CPU_GROUPS},
        machine_busy=_busy_share(busy_start, busy_end),
        own_busy=sum(used.values()) / (elapsed * (os.cpu_count() or 1)),
    )


def _snapshot(page: LabPage, key: str) -> dict[str, Any]:
    output = page.execute(f"bench_snapshot({key})")
    snapshot: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return snapshot


def _fps_row(config: Config, results: dict[str, Measured]) -> Row:
    m = results[config.key]
    shown = f"{m.displayed_fps:.1f}"
    target = verdict = ""
    notes = [f"{m.dropped} dropped by the delivery", f"interval p95 {m.interval_p95_ms:.0f} ms"]
    if config.has_target:
        target = f"≥ {TARGET_FPS:g}"
        verdict = "met" if float(shown) >= TARGET_FPS else "missed"
        if verdict == "missed":
            notes.append(_limit_text(config, results))
    if config.in_flight == 1:
        notes.append(f"~{1000.0 / m.displayed_fps:.0f} ms round trip per frame")
    if config.source_fps != TARGET_FPS:
        notes.append("the display path beyond the 30 fps source")
    return Row(
        metric=f"displayed fps, {config.label}",
        byoc_lab=shown,
        reference=f"{m.processed_fps:.1f}",
        target=target,
        verdict=verdict,
        note="; ".join(notes),
    )


def _process_row(config: Config, m: Measured) -> Row:
    def ms(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.2f}" if value >= 1 else f"{value:.3f}"

    return Row(
        metric=f"process() p50 / p95, {config.processor} (ms)",
        byoc_lab=f"{ms(m.p50_ms)} / {ms(m.p95_ms)}",
        note="engine.stats(), last ~120 frames",
    )


def _cpu_row(config: Config, m: Measured) -> Row:
    cpu = " / ".join(f"{m.cpu_ms[group]:.1f}" for group in CPU_GROUPS)
    return Row(
        metric=f"CPU per displayed frame, kernel / server / Chromium, {config.label} (ms)",
        byoc_lab=cpu,
        note=_load_text(m),
    )


def _limit_text(config: Config, results: dict[str, Measured]) -> str:
    """What held a configuration below the target: the CPU, or else the round trip."""
    m = results[config.key]
    cpu = (
        f"Chromium {m.cpu_ms['browser']:.0f} ms + kernel {m.cpu_ms['kernel']:.0f} ms + "
        f"server {m.cpu_ms['server']:.0f} ms CPU per frame"
    )
    if m.machine_busy >= CPU_BOUND:
        return f"limited by CPU: {cpu}; {_load_text(m)}"
    single = next(
        (
            results[c.key]
            for c in CONFIGS
            if c.processor == config.processor and c.in_flight == 1 and c.key in results
        ),
        None,
    )
    if single is None:
        return f"{cpu}; {_load_text(m)}"
    trip = 1000.0 / single.displayed_fps
    cap = config.in_flight * single.displayed_fps
    return (
        f"limited by the round trip (~{trip:.0f} ms with 1 in flight: {config.in_flight} "
        f"in flight cap near {cap:.0f} fps), not CPU ({_load_text(m)}); {cpu}"
    )


def _load_text(m: Measured) -> str:
    cores = os.cpu_count() or 1
    return (
        f"{cores} cores {100 * m.machine_busy:.0f}% busy, "
        f"{100 * m.own_busy:.0f}% by this run's processes"
    )


def _notes(results: dict[str, Measured], warmup: float, window: float, quick: bool) -> list[str]:
    notes = [
        "Counted on the page: every paint of the FrameView bumps `data-drawn` on "
        f"`.byoc-frame-view`; a MutationObserver timestamps each one over a {window:g} s "
        f"window after {warmup:g} s of warm-up; displayed fps = (draws - 1) / (last - first) "
        "on the page's clock. The reference column is the engine's processed fps (frames "
        "through `process()`, `engine.stats()`) over the same window.",
        "SyntheticSource bars 640x480 is paced at 30 fps, so 30 is the most the page can "
        "show (the target is the source's rate); the 60 fps source row shows what the "
        "display path does beyond it. Both panes (input and output) are sent, as in the "
        "notebook's preview: two JPEG q80 encodes in the kernel, two decodes and paints in "
        "Chromium per frame. One engine plays at a time.",
        "1 in flight: each frame waits for the previous one's acknowledgement (kernel → "
        "server → browser → kernel), so the rate is capped near 1 / round trip; FrameView's "
        "default keeps 2 in flight, overlapping one frame's round trip with the next.",
        "CPU per displayed frame: utime + stime from /proc of the notebook's kernel, the "
        "Jupyter server and every Chromium process over the window, divided by the draws. "
        "Headless Chromium without a GPU decodes, paints and composites in software.",
    ]
    errors = sum(m.errors for m in results.values())
    if errors:
        notes.append(f"{errors} frames raised in process() (see the kernel log)")
    if quick:
        notes.append("quick run: short windows, figures are indicative only")
    return notes


# -- CPU accounting from /proc (Linux) ---------------------------------------------------

CPU_GROUPS = ("kernel", "server", "browser")
_TICK = os.sysconf("SC_CLK_TCK")


def _our_cpu(kernel_pid: int) -> dict[str, float]:
    """CPU seconds so far of this run's processes, by group.

    The groups are the notebook's kernel, the Jupyter server and Chromium (all its
    processes). Only descendants of this process count, not other work on the machine.
    """
    totals = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid in _descendants(os.getpid()):
        group = _group(pid, kernel_pid)
        if group is not None:
            totals[group] += _cpu_seconds(pid)
    return totals


def _group(pid: int, kernel_pid: int) -> str | None:
    if pid == kernel_pid:
        return "kernel"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if any(b"chrom" in arg for arg in argv[:1]):
        return "browser"
    if any(arg.endswith(b"jupyter-lab") or arg == b"lab" for arg in argv[:3]):
        return "server"
    return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (utime + stime) of ``pid``; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def _busy_share(start: tuple[int, int], end: tuple[int, int]) -> float:
    total = end[1] - start[1]
    return (end[0] - start[0]) / total if total > 0 else 0.0
