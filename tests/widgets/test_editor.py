"""Editor: Apply hot-swaps good code; bad code shows its line and the old processor runs on."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from byoc_lab.widgets.editor import Editor
from byoc_lab.workbench import ApplyResult, Workbench

from .conftest import end_of

INVERT = """\
import numpy as np
from byoc_lab import FrameProcessor


class Invert(FrameProcessor):
    def process(self, frame: np.ndarray) -> np.ndarray:
        return 255 - frame
"""

SYNTAX_ERROR = """\
from byoc_lab import FrameProcessor

class Broken(FrameProcessor)
    def process(self, frame):
        return frame
"""

RAISES_WHILE_LOADING = """\
from byoc_lab import FrameProcessor


class Broken(FrameProcessor):
    scale = 1 / 0

    def process(self, frame):
        return frame
"""


@pytest.fixture
def bench() -> Iterator[Workbench]:
    workbench = Workbench(source="synthetic:solid", size=(160, 120))
    yield workbench
    workbench.close()


@pytest.fixture
def editor(bench: Workbench) -> Iterator[Editor]:
    widget = Editor(bench)
    yield widget
    widget.close()


def green_gain(bench: Workbench) -> float:
    frame = bench.preview.step()
    assert frame is not None
    assert frame.output is not None
    return float(np.median(frame.output[:, :, 1].astype(int) - frame.input[:, :, 1]))


def test_starts_with_the_workbench_source_text(bench: Workbench, editor: Editor) -> None:
    assert editor.source == bench.source_text
    assert "class GreenTint" in editor.source


@pytest.mark.parametrize(("text", "line"), [(SYNTAX_ERROR, 3), (RAISES_WHILE_LOADING, 5)])
def test_bad_code_shows_its_line_and_the_old_processor_keeps_running(
    bench: Workbench, editor: Editor, text: str, line: int
) -> None:
    before = bench.processor
    end_of(editor).deliver({"type": "apply", "source": text})
    assert editor.source == text  # the text came with the message
    assert editor.error["line"] == line
    assert f"line {line}" in editor.error["message"]
    assert [c for c, _ in end_of(editor).of_type("applied")] == [{"type": "applied", "ok": False}]
    assert bench.processor is before
    assert green_gain(bench) == pytest.approx(80, abs=2)


def test_good_code_is_applied_and_the_error_cleared(bench: Workbench, editor: Editor) -> None:
    results: list[ApplyResult] = []
    editor.on_apply(results.append)
    end_of(editor).deliver({"type": "apply", "source": SYNTAX_ERROR})
    assert editor.error
    end_of(editor).deliver({"type": "apply", "source": INVERT})
    assert editor.error == {}
    assert editor.status.startswith("Applied Invert at ")
    assert "into preview" in editor.status
    assert [c["ok"] for c, _ in end_of(editor).of_type("applied")] == [False, True]
    assert type(bench.processor).__name__ == "Invert"
    assert [r.class_name for r in results] == ["Invert"]
    frame = bench.preview.step()
    assert frame is not None
    assert frame.output is not None
    assert np.array_equal(frame.output, 255 - frame.input)


def test_apply_uses_the_source_the_browser_synced(bench: Workbench, editor: Editor) -> None:
    end_of(editor).sync_from_browser({"source": INVERT})
    assert editor.source == INVERT
    result = editor.apply()
    assert result is not None
    assert result.class_name == "Invert"


def test_a_failing_listener_does_not_undo_the_apply(bench: Workbench, editor: Editor) -> None:
    def broken(_result: ApplyResult) -> None:
        raise RuntimeError("listener bug")

    editor.on_apply(broken)
    assert editor.apply(INVERT) is not None
    assert editor.error == {}


def test_a_processor_swapped_in_from_code_replaces_the_editors_text(
    bench: Workbench, editor: Editor
) -> None:
    assert "class GreenTint" in editor.source
    namespace: dict[str, object] = {}
    exec(INVERT, namespace)  # what a %%processor cell does, in the user's namespace
    bench.use(namespace["Invert"], source_text=INVERT)
    assert editor.source == INVERT  # a later Apply re-applies Invert, not GreenTint
    assert editor.status.startswith("Showing Invert, swapped in from code at ")
    assert editor.apply() is not None
    assert type(bench.processor).__name__ == "Invert"


def test_a_closed_editor_stops_following(bench: Workbench) -> None:
    widget = Editor(bench)
    widget.close()
    namespace: dict[str, object] = {}
    exec(INVERT, namespace)
    bench.use(namespace["Invert"], source_text=INVERT)
    assert "class GreenTint" in widget.source
