"""``%%processor`` in a real IPython shell: defines, records, hot-swaps; errors keep the old."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from traitlets.config import Config

from byoc_lab import GreenTint
from byoc_lab.editing import SOURCE_ATTRIBUTE
from byoc_lab.workbench import Workbench, current_workbench

from .conftest import COLOR, RED_MAX, center


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    """A real IPython shell (history in memory), cleared afterwards for other tests."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    result = _run(ip, "%load_ext byoc_lab")
    assert result.success
    yield ip
    InteractiveShell.clear_instance()


def _run(shell: InteractiveShell, cell: str) -> ExecutionResult:
    result: ExecutionResult = shell.run_cell(cell)  # type: ignore[no-untyped-call]
    return result


def _preview_center(bench: Workbench) -> tuple[int, int, int]:
    frame = bench.preview.step()
    assert frame is not None
    assert frame.output is not None
    return center(frame.output)


def test_the_magic_defines_records_and_hot_swaps(
    shell: InteractiveShell, bench: Workbench, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _preview_center(bench) == (COLOR[0], COLOR[1] + 80, COLOR[2])
    result = _run(shell, "%%processor\n" + RED_MAX)
    assert result.success
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.strip() == (
        "RedMax defined (RGB array in/out, sync); params level=255; hot-swapped into the preview"
    )
    cls = shell.user_ns["RedMax"]
    assert getattr(cls, SOURCE_ATTRIBUTE) == RED_MAX
    assert "np" in shell.user_ns  # the cell's names land in the notebook
    assert type(bench.processor) is cls
    assert _preview_center(bench) == (255, COLOR[1], COLOR[2])
    assert bench.source_text == RED_MAX


def test_the_magic_swaps_into_the_worker_too(
    shell: InteractiveShell, served: Workbench, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(shell, "%%processor\n" + RED_MAX)
    assert "hot-swapped into the preview and the worker" in capsys.readouterr().out
    served.preview.step()
    outcome = served.send_frame_job()
    assert outcome.output is not None
    assert center(outcome.output) == (255, COLOR[1], COLOR[2])


def test_errors_print_the_line_and_keep_the_old_processor(
    shell: InteractiveShell, bench: Workbench, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = RED_MAX.replace("out = frame.copy()", "out = frame.copy() + missing_name")
    result = _run(shell, "%%processor\n" + bad)
    assert result.success  # no traceback wall: one line on stderr
    err = capsys.readouterr().err.strip()
    assert err.startswith("%%processor: RedMax defined but not swapped in: ")
    assert "NameError: name 'missing_name' is not defined (line 10 of the cell)" in err
    assert err.count("\n") == 0
    _run(shell, "%%processor\nx = (\n")
    err = capsys.readouterr().err.strip()
    assert err.startswith("%%processor: syntax error on line 1 of the cell")
    assert isinstance(bench.processor, GreenTint)
    assert _preview_center(bench) == (COLOR[0], COLOR[1] + 80, COLOR[2])


def test_without_a_workbench_it_says_how_to_start_one(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    assert current_workbench() is None
    _run(shell, "%%processor\n" + RED_MAX)
    assert capsys.readouterr().out.strip() == (
        "RedMax defined (RGB array in/out, sync); params level=255; "
        "no Lab running: use byoc_lab.Lab(RedMax)"
    )
