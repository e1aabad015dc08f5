"""Run the benchmarks: ``python -m benchmarks.run [--quick] [--only stream,batch]``.

Each section module (``stream``, ``batch``, ``preview``, ``footprint``) exposes
``run(quick: bool = False)`` returning a :class:`~benchmarks.report.Section` or a list
of them. Sections run one after another (never two at once: they would measure each
other) and each table is printed as soon as it is done. A section that raises is
reported as a section whose note is the exception's last line, the others still run,
and the exit status is 1.

A full run (no ``--quick``, no ``--only``) writes ``benchmarks/results.md`` and
replaces the table between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in
README.md. ``--quick`` (a few frames and jobs per section, for smoke tests) and
``--only`` (part of the sections) print only, so a partial run never replaces the
full report.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from benchmarks.report import Section, markdown_report, markdown_table

__all__ = ["SECTIONS", "machine_header", "main", "replace_between_markers", "run_section"]

ROOT: Final = Path(__file__).resolve().parents[1]
RESULTS: Final = ROOT / "benchmarks" / "results.md"
README: Final = ROOT / "README.md"
START_MARKER: Final = "<!-- bench:start -->"
END_MARKER: Final = "<!-- bench:end -->"
SECTIONS: Final = ("stream", "batch", "preview", "footprint")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _git_commit() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    # The files a full run writes do not make the measured code dirty.
    dirty = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".",
        ":!README.md", ":!benchmarks/results.md",
    )  # fmt: skip
    return f"{commit} (with uncommitted changes)" if dirty else commit


def machine_header(now: datetime.datetime | None = None) -> str:
    """One line: cores, CPU model, RAM, Python, byoc_lab version, date (UTC), commit."""
    import byoc_lab

    when = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Measured {when} on {os.cpu_count()} cores ({_cpu_model()}), {_ram_gib()}, "
        f"Python {platform.python_version()}, byoc_lab {byoc_lab.__version__}, "
        f"commit {_git_commit()}. Timings on a shared machine are noisy: each row compares "
        "figures measured side by side in the same run."
    )


def run_section(name: str, quick: bool) -> tuple[list[Section], bool]:
    """Run one section module; ``(sections, ok)``.

    Anything it raises becomes a section titled after it whose note is the
    exception's last line (``ok`` False), so one broken section never hides the others.
    """
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        result = module.run(quick=quick)
        sections = [result] if isinstance(result, Section) else list(result)
        if not sections or not all(isinstance(s, Section) for s in sections):
            raise TypeError(f"benchmarks.{name}.run() returned {result!r}, not Section(s)")
    except Exception as exc:  # noqa: BLE001 - reported as the section's note; exit 1
        last = traceback.format_exception(exc)[-1].strip()
        note = f"this section failed and measured nothing: {last}"
        return [Section(title=f"{name} (failed)", reference_name="", notes=[note])], False
    return sections, True


def replace_between_markers(text: str, block: str) -> str:
    """``text`` with what lies between the bench markers replaced by ``block``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs {START_MARKER} followed by {END_MARKER}")
    head = text[: start + len(START_MARKER)]
    return f"{head}\n\n{block.strip()}\n\n{text[end:]}"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run of each section; prints only"
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated sections to run ({', '.join(SECTIONS)}); prints only",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else []
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.names = [n for n in SECTIONS if n in names] if names else list(SECTIONS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, print them, write the report on a full run; exit status."""
    args = _parse(argv)
    header = machine_header()
    print(header + "\n", flush=True)
    sections: list[Section] = []
    failed: list[str] = []
    for name in args.names:
        started = time.monotonic()
        produced, ok = run_section(name, args.quick)
        sections += produced
        if not ok:
            failed.append(name)
        for section in produced:
            print(markdown_table(section), flush=True)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
    report = markdown_report(sections, header)
    if args.quick or len(args.names) < len(SECTIONS):
        print("Not written (--quick/--only): a partial run does not replace the report.")
    else:
        RESULTS.write_text("# byoc_lab benchmarks\n\n" + report)
        README.write_text(replace_between_markers(README.read_text(), report))
        print(f"Wrote {RESULTS} and the table in {README}.")
    if failed:
        print(f"Failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
