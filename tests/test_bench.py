"""The benchmarks' smoke test: each section's quick run, judged on content, never on speed.

A row must carry numbers where it claims a measurement, its verdict must agree with its
figure and target as printed, every batch answer must have been checked and none may
have failed, and each section must render as a Markdown table. How fast anything was
is never asserted: these machines are shared and the figures are noise here.
"""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

from benchmarks import batch, footprint, preview, stream
from benchmarks import run as bench
from benchmarks.report import Row, Section, markdown_table
from benchmarks.stream_media import FPS

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
COMPARISON = re.compile(r"^(<|≤|<=|>|≥|>=)\s*(-?\d+(?:\.\d+)?)$")


def numbers(cell: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(cell.replace(",", ""))]


def decimals(cell: str) -> int:
    match = NUMBER.search(cell.replace(",", ""))
    assert match is not None, cell
    return len(match.group().partition(".")[2])


def by_metric(section: Section) -> dict[str, Row]:
    rows = {row.metric: row for row in section.rows}
    assert len(rows) == len(section.rows), "two rows share a metric"
    return rows


def assert_verdict_agrees(row: Row) -> None:
    """The verdict follows from the figure and the target as printed (rounding aside)."""
    assert row.verdict in ("met", "missed", ""), row
    if not row.target or not row.verdict:
        return
    figures = numbers(row.byoc_lab)
    if not figures:  # "n/a": nothing measured cannot meet a target
        assert row.verdict == "missed", row
        return
    figure = figures[0]
    comparison = COMPARISON.match(row.target)
    if comparison is None:
        if "/" in row.target:  # "30/30": all of them
            assert (row.verdict == "met") == (row.byoc_lab == row.target), row
        else:
            assert re.fullmatch(r"-?\d+(\.\d+)?", row.target), f"uncheckable target: {row}"
            assert (row.verdict == "met") == (figure == float(row.target)), row
        return
    op, threshold_text = comparison.groups()
    threshold = float(threshold_text)
    slack = 0.5 * 10 ** -decimals(row.byoc_lab) + 0.5 * 10 ** -decimals(threshold_text)
    if abs(figure - threshold) <= slack:  # on the edge: either verdict is honest
        return
    met = {
        "<": figure < threshold,
        "≤": figure <= threshold,
        "<=": figure <= threshold,
        ">": figure > threshold,
        "≥": figure >= threshold,
        ">=": figure >= threshold,
    }[op]
    assert (row.verdict == "met") == met, row


def assert_renders(section: Section) -> None:
    text = markdown_table(section)
    assert text.startswith(f"### {section.title}\n")
    lines = text.splitlines()
    for row in section.rows:
        assert "|" not in row.metric + row.byoc_lab + row.reference + row.note, row
        line = f"| {row.metric} | {row.byoc_lab} | {row.reference} | {row.target} |"
        assert any(entry.startswith(line) for entry in lines), row
    for note in section.notes:
        assert f"- {note}" in lines


def pair(cell: str) -> tuple[float, float]:
    values = numbers(cell)
    assert len(values) == 2, cell
    return values[0], values[1]


# -- batch --------------------------------------------------------------------------------


def test_batch_quick_run_checks_every_answer_and_judges_the_added_latency() -> None:
    section = batch.run(quick=True)
    rows = by_metric(section)
    for label in ("gateway → orchestrator → worker", "direct to worker"):
        for clients in ("1 client", "8 clients"):
            latency = rows[f"{label}, {clients}: p50 / p95 (ms)"]
            for cell in (latency.byoc_lab, latency.reference):
                p50, p95 = pair(cell)
                assert 0 < p50 <= p95
            rate = rows[f"{label}, {clients}: jobs/s"]
            assert numbers(rate.byoc_lab)[0] > 0
            assert numbers(rate.reference)[0] > 0
        assert numbers(rows[f"{label}: server CPU per job (ms)"].byoc_lab)[0] >= 0
    p50, p95 = pair(
        rows["process() alone, GreenTint (array) on the same frame: p50 / p95 (ms)"].byoc_lab
    )
    assert 0 < p50 <= p95

    gateway = rows["gateway → orchestrator → worker, 1 client: p50 / p95 (ms)"]
    added = rows["added over the echo floor at p50, 1 client (ms)"]
    assert added.target == "< 5"
    assert numbers(added.byoc_lab)[0] == pytest.approx(
        pair(gateway.byoc_lab)[0] - pair(gateway.reference)[0], abs=0.11
    )
    assert "process()" in added.note
    assert "gateway and orchestrator hops" in added.note

    plan = batch.Plan.for_mode(quick=True)
    per_target = sum(
        plan.jobs // plan.rounds * plan.rounds + plan.warmup * c for c in batch.CLIENTS
    )
    failed = rows["failed jobs (status, size or pixels wrong)"]
    assert failed.byoc_lab == f"0 of {2 * per_target:,}"  # gateway and direct, every job
    assert failed.reference == f"0 of {per_target:,}"
    assert failed.verdict == "met"
    for row in section.rows:
        assert_verdict_agrees(row)
    assert_renders(section)


def _tallies(gateway_ms: float, failures: int = 0) -> batch.Results:
    results: batch.Results = {}
    for clients in batch.CLIENTS:
        for target, ms in (("echo", 1.0), ("direct", 3.0), ("gateway", gateway_ms)):
            tally = batch.Tally(latencies_ms=[ms] * 10, attempted=10, wall_s=0.1)
            if target == "gateway" and failures:
                tally.latencies_ms = tally.latencies_ms[failures:]
                tally.failures["HTTP 503: No capacity available"] = failures
            results[target, clients] = tally
    return results


def test_batch_table_shows_a_missed_target_and_failures_plainly() -> None:
    section = batch.build_section(_tallies(9.0, failures=1), [0.5] * 10, batch.Plan(10, 1, 0))
    rows = by_metric(section)
    added = rows["added over the echo floor at p50, 1 client (ms)"]
    assert (added.byoc_lab, added.verdict) == ("8.0", "missed")
    assert "the gateway and orchestrator hops 6.0" in added.note
    assert "most of it is the gateway and orchestrator hops (server CPU per job" in added.note
    failed = rows["failed jobs (status, size or pixels wrong)"]
    assert (failed.byoc_lab, failed.reference, failed.verdict) == ("2 of 40", "0 of 20", "missed")
    assert "2x HTTP 503: No capacity available" in failed.note
    for row in section.rows:
        assert_verdict_agrees(row)


def test_batch_table_without_a_single_gateway_answer_says_so() -> None:
    section = batch.build_section(_tallies(9.0, failures=10), [0.5] * 10, batch.Plan(10, 1, 0))
    rows = by_metric(section)
    added = rows["added over the echo floor at p50, 1 client (ms)"]
    assert (added.byoc_lab, added.verdict) == ("n/a", "missed")
    assert rows["gateway → orchestrator → worker, 1 client: p50 / p95 (ms)"].byoc_lab == "n/a / n/a"
    assert_renders(section)


# -- footprint ----------------------------------------------------------------------------


def test_footprint_quick_run_times_the_import_and_sizes_the_exported_context() -> None:
    section = footprint.run(quick=True)
    rows = by_metric(section)
    assert set(rows) == {
        "`import byoc_lab`, best of 3 fresh interpreters (ms)",
        "exported build context, all files (KiB)",
    }
    imported = rows["`import byoc_lab`, best of 3 fresh interpreters (ms)"]
    assert numbers(imported.byoc_lab)[0] > 0
    assert numbers(imported.reference)[0] > 0  # import numpy alone
    context = rows["exported build context, all files (KiB)"]
    assert numbers(context.byoc_lab)[0] > 0
    assert re.search(r"\d+ files, the byoc_lab wheel included", context.note)
    assert_renders(section)


def test_footprint_memory_rows_put_the_lab_beside_the_idle_kernel() -> None:
    memory = footprint.KernelMemory(
        idle_kb=50_000, lab_kb=120_000, peak_kb=130_000, preview="90 frames, 30 fps, 0 errors"
    )
    rows = by_metric(Section("Footprint", "", footprint.memory_rows(memory)))
    with_lab = rows["kernel RSS with a Lab previewing (MB)"]
    assert (with_lab.byoc_lab, with_lab.reference) == ("123", "51")
    assert "90 frames, 30 fps, 0 errors" in with_lab.note
    assert rows["kernel RSS added by the Lab (MB)"].byoc_lab == "72"


# -- stream and preview (written beside this framework) -----------------------------------


def test_stream_quick_run_identifies_frames_and_judges_them() -> None:
    section = stream.run(quick=True)
    rows = by_metric(section)
    delivered = rows["frames delivered, 512x512"]
    got, sent = numbers(delivered.byoc_lab)
    assert sent == FPS  # quick: one second of live input
    assert 0 < got <= sent  # counted by the numbers burned into the frames
    assert delivered.target == f"{sent:.0f}/{sent:.0f}"
    p50 = numbers(rows["p50 latency, 512x512 (ms)"].byoc_lab)[0]
    assert 0 < p50 <= numbers(rows["p95 latency, 512x512 (ms)"].byoc_lab)[0]
    assert numbers(rows["output fps, 512x512"].byoc_lab)[0] > 0
    assert numbers(rows["worker CPU per frame, 512x512 (ms)"].byoc_lab)[0] > 0
    floor = rows["codec floor: decode + encode alone, 512x512 (CPU ms/frame)"]
    assert numbers(floor.byoc_lab)[0] > 0
    assert numbers(floor.reference)[0] > 0
    for row in section.rows:
        assert numbers(row.byoc_lab), row
        # pytrickle: a figure, or why there is none (no peer venv in a quick run)
        assert numbers(row.reference) or row.reference.startswith(("not run", "failed")), row
        assert_verdict_agrees(row)
    assert_renders(section)


def test_preview_quick_run_counts_frames_displayed_in_chromium() -> None:
    section = preview.run(quick=True)
    if not section.rows:  # no Chromium: the browser tests' rule, skip for a developer, fail in CI
        why = "; ".join(section.notes) or "the preview section measured nothing"
        if os.environ.get("CI"):
            pytest.fail(f"{why}. CI is set: a missing browser must not pass silently")
        pytest.skip(why)
    rows = by_metric(section)
    shown = [row for metric, row in rows.items() if metric.startswith("displayed fps, ")]
    assert len(shown) == len(preview.CONFIGS)
    for row in shown:
        assert numbers(row.byoc_lab)[0] > 0  # frames drawn on the page
        assert numbers(row.reference)[0] > 0  # frames through process()
        assert_verdict_agrees(row)
    assert sum(row.target == "≥ 30" for row in shown) == 2  # no-op and green tint
    for name in ("Passthrough", "GreenTint"):
        p50, p95 = pair(rows[f"process() p50 / p95, {name} (ms)"].byoc_lab)
        assert 0 < p50 <= p95
    assert_renders(section)


# -- the runner ---------------------------------------------------------------------------


def _fake_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(quick: bool = False) -> Section:
        raise ValueError("no frames came back")

    def fine(quick: bool = False) -> list[Section]:
        return [Section("Fine", "floor", [Row("answers (count)", "3", "3")])]

    for name, function in (("zz_broken", broken), ("zz_fine", fine)):
        module = types.ModuleType(f"benchmarks.{name}")
        module.run = function  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f"benchmarks.{name}", module)
    monkeypatch.setattr(bench, "SECTIONS", ("zz_broken", "zz_fine"))


def test_a_section_that_raises_is_a_note_the_others_still_run_and_the_run_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_sections(monkeypatch)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{bench.START_MARKER}\nold table\n{bench.END_MARKER}\n\n## After\n")
    monkeypatch.setattr(bench, "README", readme)
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results.md")

    assert bench.main([]) == 1

    printed = capsys.readouterr()
    assert "ValueError: no frames came back" in printed.out
    assert "| answers (count) | 3 | 3 |" in printed.out
    assert "zz_broken" in printed.err
    written = readme.read_text()
    assert "old table" not in written
    assert written.endswith(f"{bench.END_MARKER}\n\n## After\n")
    assert "cores" in written
    assert "ValueError: no frames came back" in written
    assert "### Fine" in written
    assert (tmp_path / "results.md").read_text().startswith("# byoc_lab benchmarks\n\nMeasured ")


def test_quick_and_partial_runs_write_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_sections(monkeypatch)
    monkeypatch.setattr(bench, "README", tmp_path / "README.md")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results.md")
    assert bench.main(["--quick"]) == 1
    assert bench.main(["--only", "zz_fine"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert "Not written" in capsys.readouterr().out


def test_an_unknown_section_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--only", "strem"])
    assert "stream, batch, preview, footprint" in capsys.readouterr().err


def test_the_readme_has_the_markers_the_runner_fills(repo_root: Path) -> None:
    text = (repo_root / "README.md").read_text()
    assert text.count(bench.START_MARKER) == text.count(bench.END_MARKER) == 1
    assert text.index(bench.START_MARKER) < text.index(bench.END_MARKER)
    with pytest.raises(ValueError, match="needs"):
        bench.replace_between_markers("no markers here", "table")


def test_the_header_names_the_machine() -> None:
    header = bench.machine_header()
    assert f"on {os.cpu_count()} cores (" in header
    assert re.search(r"Python 3\.\d+\.\d+, byoc_lab \d", header)
    assert re.search(r"Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC", header)
