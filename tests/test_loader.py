from __future__ import annotations

from pathlib import Path

import pytest

from byoc_lab import ContractError, GreenTint, ProcessorLoadError, load_processor
from byoc_lab.loader import as_processor, load_processor_class


def test_file_and_class(scenario: Path) -> None:
    p = load_processor(f"{scenario / 'two_classes.py'}:Brighten", amount=20)
    assert type(p).__name__ == "Brighten"
    assert p.amount == 20


def test_module_and_class() -> None:
    assert isinstance(load_processor("byoc_lab.builtins:GreenTint"), GreenTint)


def test_file_with_a_single_class_needs_no_class_name(scenario: Path) -> None:
    cls = load_processor_class(str(scenario / "raises_on_frame.py"))
    assert cls.__name__ == "RaisesOnOddFrames"


def test_file_with_two_classes_asks_which(scenario: Path) -> None:
    with pytest.raises(ProcessorLoadError) as info:
        load_processor(str(scenario / "two_classes.py"))
    assert "Brighten, Invert" in str(info.value)
    assert "two_classes.py:ClassName" in str(info.value)


def test_missing_file_names_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(ProcessorLoadError) as info:
        load_processor(f"{tmp_path / 'nope.py'}:X")
    assert "not found" in str(info.value)
    assert str(tmp_path / "nope.py") in str(info.value)


def test_missing_class_lists_what_exists(scenario: Path) -> None:
    with pytest.raises(ProcessorLoadError) as info:
        load_processor(f"{scenario / 'two_classes.py'}:Sharpen")
    assert "no class 'Sharpen'" in str(info.value)
    assert "one of Brighten, Invert" in str(info.value)


def test_syntax_error_gives_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("class P:\n    def process(self, frame)\n        return frame\n")
    with pytest.raises(ProcessorLoadError, match="syntax error on line 2"):
        load_processor(f"{bad}:P")


def test_import_time_exception_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "boom.py"
    bad.write_text("raise RuntimeError('no GPU here')\n")
    with pytest.raises(ProcessorLoadError, match="raised RuntimeError: no GPU here"):
        load_processor(f"{bad}:P")


def test_unknown_module() -> None:
    with pytest.raises(ProcessorLoadError, match=r"cannot import module 'no_such_pkg\.mod'"):
        load_processor("no_such_pkg.mod:P")


def test_constructor_needing_arguments_breaks_the_contract(scenario: Path) -> None:
    with pytest.raises(ContractError, match="without arguments"):
        load_processor(f"{scenario / 'needs_args.py'}:NeedsModelPath")


def test_as_processor_accepts_spec_class_or_instance() -> None:
    instance = GreenTint()
    assert as_processor(instance) is instance
    assert isinstance(as_processor(GreenTint), GreenTint)
    assert isinstance(as_processor("byoc_lab.builtins:GreenTint"), GreenTint)
