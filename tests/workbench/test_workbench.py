"""Workbench without serving: apply, use, parameters, source text, current workbench."""

from __future__ import annotations

from pathlib import Path

import pytest

from byoc_lab import (
    ContractError,
    FrameContractError,
    GreenTint,
    ParamError,
    ProcessorSourceError,
    RuntimeStateError,
)
from byoc_lab.editing import SOURCE_ATTRIBUTE
from byoc_lab.preview import PreviewFrame
from byoc_lab.workbench import Workbench, current_workbench

from .conftest import COLOR, RED_MAX, SIZE, center, solid_source


def _output(bench: Workbench) -> tuple[int, int, int]:
    frame = bench.preview.step()
    assert isinstance(frame, PreviewFrame)
    assert frame.output is not None, frame.error
    return center(frame.output)


def test_new_workbench_is_current_and_previews_green_tint(bench: Workbench) -> None:
    assert current_workbench() is bench
    assert isinstance(bench.processor, GreenTint)
    assert _output(bench) == (COLOR[0], COLOR[1] + 80, COLOR[2])
    assert [spec.name for spec in bench.param_specs()] == ["boost"]
    assert bench.params() == {"boost": 80}


def test_builtin_source_text_is_an_editable_template_that_applies(bench: Workbench) -> None:
    text = bench.source_text
    assert "class GreenTint(FrameProcessor):" in text
    edited = text.replace("boost = Param(80,", "boost = Param(30,")
    result = bench.apply(edited)
    assert result.class_name == "GreenTint"
    assert type(bench.processor) is not GreenTint  # the edited copy, not the built-in
    assert result.carried == {"boost": 80}  # the tuned value survives the edit
    assert not hasattr(GreenTint, SOURCE_ATTRIBUTE)


def test_apply_swaps_the_preview_and_records_the_text(bench: Workbench) -> None:
    assert _output(bench)[0] == COLOR[0]
    result = bench.apply(RED_MAX)
    assert result.class_name == "RedMax"
    assert result.describe == "RedMax (RGB array in/out, sync)"
    assert result.swapped_into == ["preview"]
    assert _output(bench) == (255, COLOR[1], COLOR[2])
    assert bench.source_text == RED_MAX
    assert getattr(type(bench.processor), SOURCE_ATTRIBUTE) == RED_MAX
    assert bench.params() == {"level": 255}
    events = bench.service_status().events
    assert events[-1].kind == "swapped"
    assert "RedMax (RGB array in/out, sync) into the preview" in str(events[-1])


def test_bad_code_keeps_the_previous_processor(bench: Workbench) -> None:
    before = _output(bench)
    with pytest.raises(ProcessorSourceError) as syntax:
        bench.apply("import numpy as np\nclass X(\n")
    assert syntax.value.line == 2
    raising = RED_MAX.replace("out = frame.copy()", "out = frame.copy() + undefined")
    with pytest.raises(ProcessorSourceError) as runtime:
        bench.apply(raising)
    assert runtime.value.line == 10
    assert "RedMax.process() on a 160x120 test frame raised NameError" in str(runtime.value)
    assert "(line 10 of the editor)" in str(runtime.value)
    with pytest.raises(FrameContractError):
        bench.apply(RED_MAX.replace("return out", "return None"))
    assert isinstance(bench.processor, GreenTint)
    assert _output(bench) == before
    assert bench.source_text != raising


def test_a_hanging_process_is_refused_within_the_frame_timeout() -> None:
    hangs = RED_MAX.replace("out = frame.copy()", "import time; time.sleep(3); out = frame")
    wb = Workbench(GreenTint(), source=solid_source(), size=SIZE, frame_timeout=0.5)
    try:
        with pytest.raises(ProcessorSourceError) as info:
            wb.apply(hangs)
        assert "did not finish within 0.5 s" in str(info.value)
        assert info.value.line == 10
        assert isinstance(wb.processor, GreenTint)
    finally:
        wb.close()


def test_use_takes_objects_and_keeps_shared_params(bench: Workbench) -> None:
    bench.update_params({"boost": 10})
    assert _output(bench)[1] == COLOR[1] + 10
    result = bench.use(GreenTint(boost=200))
    assert result.carried == {"boost": 10}
    assert _output(bench)[1] == COLOR[1] + 10


def test_update_params_validates_and_reaches_the_preview(bench: Workbench) -> None:
    assert bench.update_params({"boost": 100}) == {"boost": 100}
    assert _output(bench)[1] == COLOR[1] + 100
    with pytest.raises(ParamError):
        bench.update_params({"boost": 999})
    with pytest.raises(ParamError):
        bench.update_params({"nope": 1})
    assert bench.params() == {"boost": 100}
    assert bench.service_status().events[-1].message == "boost=100"


def test_an_init_that_raises_names_its_line(bench: Workbench) -> None:
    text = RED_MAX.replace(
        "class RedMax(FrameProcessor):",
        "class RedMax(FrameProcessor):\n    def __init__(self):\n        raise KeyError('x')\n",
    )
    with pytest.raises(ProcessorSourceError) as info:
        bench.apply(text)
    assert info.value.line == 8
    assert str(info.value).startswith("RedMax() raised KeyError: 'x' (line 8 of the editor)")
    assert "Fix: correct line 8 and apply again" in str(info.value)
    assert isinstance(bench.processor, GreenTint)


def test_classes_needing_arguments_are_refused(bench: Workbench) -> None:
    with pytest.raises(ContractError, match="cannot be created without arguments"):
        bench.apply(
            RED_MAX.replace(
                "class RedMax(FrameProcessor):",
                "class RedMax(FrameProcessor):\n    def __init__(self, x): super().__init__()\n",
            )
        )


def test_not_serving_status_and_errors(bench: Workbench) -> None:
    status = bench.service_status()
    assert not status.running
    assert status.health == "STOPPED"
    assert status.urls == {}
    assert status.summary() == "STOPPED: not serving"
    assert bench.network is None
    with pytest.raises(
        RuntimeStateError, match=r"not serving: cannot send a frame job. Fix: call serve\(\) first"
    ):
        bench.send_frame_job()
    with pytest.raises(RuntimeStateError, match="not serving"):
        bench.start_stream()


def test_close_is_final_and_current_moves_back() -> None:
    first = Workbench(source=solid_source(), size=SIZE)
    second = Workbench(source=solid_source(), size=SIZE)
    try:
        assert current_workbench() is second
        second.close()
        second.close()  # idempotent
        assert current_workbench() is first
        with pytest.raises(RuntimeStateError, match="closed"):
            second.apply(RED_MAX)
    finally:
        first.close()
    assert current_workbench() is None


def test_a_processor_loaded_from_a_file_shows_the_whole_file(scenario: Path) -> None:
    path = scenario / "duck_typed.py"
    bench = Workbench(f"{path}:{_first_class(path)}", source=solid_source(), size=SIZE)
    try:
        assert bench.source_text == path.read_text()
    finally:
        bench.close()


def _first_class(path: Path) -> str:
    line = next(line for line in path.read_text().splitlines() if line.startswith("class "))
    return line.removeprefix("class ").split("(")[0].split(":")[0].strip()
