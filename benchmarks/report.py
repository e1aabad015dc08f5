"""What every benchmark section returns, and how the results are printed and written.

A section measures one thing (live streams, batch jobs, the preview, footprint) and
returns a :class:`Section`: rows that put byoc_lab's figure beside the reference measured
in the same run (pytrickle, the transport floor, the codec floor) and the target the
project set itself, with a plain verdict. Figures on a shared machine are noisy, so a
row compares values measured side by side, never a figure against a remembered one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Row", "Section", "markdown_report", "markdown_table"]


@dataclass(frozen=True)
class Row:
    """One measured quantity.

    Attributes:
        metric: what is measured, with its unit, e.g. ``"p50 latency, 512x512 (ms)"``.
        byoc_lab: byoc_lab's figure, formatted (``"4.1"``, ``"300/300"``).
        reference: the same quantity for the reference named by the section (pytrickle,
            the echo floor, ...), formatted; ``""`` when there is none.
        target: the project's target for byoc_lab, e.g. ``"< 100"``; ``""`` when none.
        verdict: ``"met"``, ``"missed"`` or ``""`` (no target), decided by the section.
        note: what limits the figure when a target is missed, or context (short).
    """

    metric: str
    byoc_lab: str
    reference: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""


@dataclass
class Section:
    """A titled group of rows, e.g. ``Live stream (30 fps H.264, green tint)``.

    Attributes:
        title: the section heading.
        reference_name: what the reference column holds here (``"pytrickle 0.1.6"``).
        rows: the measurements.
        notes: sentences printed under the table (how it was measured, caveats).
    """

    title: str
    reference_name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def markdown_table(section: Section) -> str:
    """The section as a Markdown heading, table and notes."""
    reference = section.reference_name or "reference"
    lines = [
        f"### {section.title}",
        "",
        f"| metric | byoc_lab | {reference} | target | verdict | note |",
        "|---|---:|---:|---:|---|---|",
    ]
    lines += [
        f"| {r.metric} | {r.byoc_lab} | {r.reference} | {r.target} | {r.verdict} | {r.note} |"
        for r in section.rows
    ]
    if section.notes:
        lines.append("")
        lines += [f"- {note}" for note in section.notes]
    return "\n".join(lines) + "\n"


def markdown_report(sections: Sequence[Section], header: str) -> str:
    """``header`` (machine, date) followed by every section's table."""
    return header.rstrip() + "\n\n" + "\n".join(markdown_table(s) for s in sections)
