"""compile_processor: the one class a text defines, and errors on the right line."""

from __future__ import annotations

import linecache

import numpy as np
import pytest

import byoc_lab
from byoc_lab import FrameProcessor, Grayscale, GreenTint, Passthrough, ProcessorSourceError
from byoc_lab.editing import SOURCE_ATTRIBUTE, compile_processor, editable_source
from byoc_lab.export.source import resolve_source
from byoc_lab.runner import ProcessorRunner
from byoc_lab.runtime import run_sync
from byoc_lab.tracebacks import describe_exception

from .conftest import RED_MAX


def _error(text: str, **kwargs: object) -> ProcessorSourceError:
    with pytest.raises(ProcessorSourceError) as info:
        compile_processor(text, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_the_one_class_is_compiled_under_a_registered_filename() -> None:
    compiled = compile_processor(RED_MAX)
    assert compiled.cls.__name__ == "RedMax"
    assert issubclass(compiled.cls, FrameProcessor)
    assert compiled.filename.startswith("<byoc_lab:editor#")
    assert linecache.getline(compiled.filename, 6) == "class RedMax(FrameProcessor):\n"
    assert getattr(compiled.cls, SOURCE_ATTRIBUTE) == RED_MAX
    out = compiled.cls().process(np.zeros((2, 2, 3), np.uint8))  # type: ignore[attr-defined]
    assert out[0, 0].tolist() == [255, 0, 0]


def test_syntax_error_names_its_line() -> None:
    err = _error("import numpy as np\n\ndef broken(:\n    pass\n")
    assert err.line == 3
    assert "syntax error on line 3 of the editor" in str(err)
    assert err.filename is not None
    assert err.filename.startswith("<byoc_lab:editor#")


def test_indentation_error_names_its_line() -> None:
    err = _error("class A:\n    def process(self, f):\n        return f\n      x = 1\n")
    assert err.line == 4


def test_exception_while_running_the_text_names_its_line() -> None:
    text = "import numpy as np\n\n\nx = 1\ny = undefined_name + x\n"
    err = _error(text, label="cell")
    assert err.line == 5
    assert str(err).startswith("line 5 of the cell raised NameError: name 'undefined_name'")
    assert "import or define that name" in str(err)


def test_no_processor_class() -> None:
    err = _error("class Helper:\n    pass\n")
    assert err.line is None
    assert "the editor defines no processor class" in str(err)
    assert "classes with no usable process(): Helper" in str(err)


def test_two_processor_classes_are_refused_naming_both() -> None:
    text = (
        RED_MAX
        + "\n\nclass Other(FrameProcessor):\n    def process(self, frame):\n        return frame\n"
    )
    err = _error(text)
    assert "defines 2 processor classes: RedMax, Other; keep one per cell/editor" in str(err)
    assert err.line == 15  # where the second one starts
    assert compile_processor(text, prefer="Other").cls.__name__ == "Other"


def test_imported_processors_do_not_count() -> None:
    text = "from byoc_lab import GreenTint, Grayscale\n" + RED_MAX
    assert compile_processor(text).cls.__name__ == "RedMax"
    err = _error("from byoc_lab import GreenTint\nalias = GreenTint\n")
    assert "defines no processor class" in str(err)


def test_a_base_class_in_the_same_text_is_not_a_second_processor() -> None:
    text = (
        "from byoc_lab import FrameProcessor\n"
        "class Base(FrameProcessor):\n    def process(self, frame):\n        return frame\n"
        "class Child(Base):\n    pass\n"
    )
    assert compile_processor(text).cls.__name__ == "Child"


def test_in_a_main_namespace_names_land_there() -> None:
    namespace: dict[str, object] = {"__name__": "__main__", "Earlier": GreenTint}
    compiled = compile_processor(RED_MAX, label="cell", namespace=namespace)
    assert compiled.cls.__module__ == "__main__"
    assert namespace["RedMax"] is compiled.cls
    assert "np" in namespace
    # Running the same text again defines a new class, found again.
    again = compile_processor(RED_MAX, label="cell", namespace=namespace)
    assert again.cls is not compiled.cls


def test_runtime_errors_in_process_name_the_editor_line() -> None:
    text = (
        "from byoc_lab import FrameProcessor\n"
        "\n"
        "class Divide(FrameProcessor):\n"
        "    def process(self, frame):\n"
        "        return frame // 0 if frame.size else 1 / 0\n"
    )
    cls = compile_processor(text).cls
    runner = ProcessorRunner(cls())
    with pytest.raises(ZeroDivisionError) as info:
        run_sync(runner.process(np.zeros((0, 2, 3), np.uint8)), 10)
    assert describe_exception(info.value).endswith("(line 5 of the editor)")


@pytest.mark.parametrize("builtin", [GreenTint, Passthrough, Grayscale])
def test_builtins_get_a_self_contained_editable_template(builtin: type) -> None:
    text = editable_source(builtin())
    assert f"class {builtin.__name__}(FrameProcessor):" in text
    assert "from byoc_lab.params import Param" in text
    copy = compile_processor(text).cls
    assert copy is not builtin
    frame = np.full((4, 4, 3), 30, np.uint8)
    assert np.array_equal(copy().process(frame.copy()), builtin().process(frame.copy()))


def test_editable_source_prefers_the_captured_text_and_export_uses_it() -> None:
    cls = compile_processor(RED_MAX).cls
    assert editable_source(cls) == RED_MAX
    found = resolve_source(cls)
    assert found.text == RED_MAX
    assert found.class_name == "RedMax"
    subclass = type("Sub", (cls,), {})
    assert editable_source(subclass) != RED_MAX  # not inherited


def test_processor_source_error_is_public() -> None:
    assert byoc_lab.ProcessorSourceError is ProcessorSourceError
