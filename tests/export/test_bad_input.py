"""Bad input: a clear, typed error that says what to fix, and nothing half-written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import byoc_lab
from byoc_lab.errors import ExportError, PreflightError
from byoc_lab.export.api import export

from .conftest import SCENARIOS
from .golden import QUICKSTART

PROCESSORS = Path(__file__).resolve().parents[1] / "processors"

# A processor that leans on a name only the notebook had.
USES_NOTEBOOK_GLOBAL = """
from byoc_lab import FrameProcessor


class Scaled(FrameProcessor):
    def process(self, frame):
        return (frame * SCALE).astype(frame.dtype)
"""
# The same, hidden from the static reading: only running it shows the missing name.
EVALS_NOTEBOOK_GLOBAL = USES_NOTEBOOK_GLOBAL.replace("* SCALE", '* eval("SCALE")')
SLOW_TO_START = """
import asyncio

from byoc_lab import FrameProcessor


class Slow(FrameProcessor):
    async def initialize(self):
        await asyncio.sleep(30)

    def process(self, frame):
        return frame
"""
IMPORTS_AT_RUNTIME = """
import importlib

from byoc_lab import FrameProcessor


class Sneaky(FrameProcessor):
    def process(self, frame):
        importlib.import_module("yaml")
        return frame
"""


def _export_fails(
    tmp_path: Path, what: Any, kind: type[ExportError], check: str, **kwargs: Any
) -> ExportError:
    dest = tmp_path / "out" / "context"
    with pytest.raises(kind) as caught:
        export(what, dest, preflight_timeout=kwargs.pop("preflight_timeout", 60.0), **kwargs)
    assert caught.value.check == check, caught.value
    assert not (tmp_path / "out").exists(), "nothing may be written, not even the parent"
    assert list(tmp_path.iterdir()) == []
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    error = _export_fails(tmp_path, "nowhere/proc.py:P", PreflightError, "source")
    assert "processor file 'nowhere/proc.py' not found" in str(error)


def test_missing_class(tmp_path: Path) -> None:
    error = _export_fails(tmp_path, f"{QUICKSTART}Typo", PreflightError, "source")
    assert "defines no class 'GreenTintProcessorTypo'" in str(error)
    assert "GreenTintProcessor" in str(error)


def test_two_classes_need_a_name(tmp_path: Path) -> None:
    error = _export_fails(tmp_path, str(PROCESSORS / "two_classes.py"), PreflightError, "source")
    assert "Brighten, Invert" in str(error)


def test_syntax_error(tmp_path: Path) -> None:
    source = "class Broken(:\n    pass\n"
    error = _export_fails(tmp_path, "Broken", PreflightError, "source", source=source)
    assert "syntax error on line 1" in str(error)


def test_constructor_that_needs_arguments_breaks_the_contract(tmp_path: Path) -> None:
    spec = f"{PROCESSORS / 'needs_args.py'}:NeedsModelPath"
    error = _export_fails(tmp_path, spec, PreflightError, "contract")
    assert "cannot be created without arguments" in str(error)
    assert "give every __init__ argument a default" in str(error)


def test_wrong_output_fails_the_test_frame(tmp_path: Path) -> None:
    spec = f"{PROCESSORS / 'wrong_output.py'}:ReturnsFloat"
    error = _export_fails(tmp_path, spec, PreflightError, "process")
    assert "ReturnsFloat.process() on a 160x120 frame raised FrameContractError" in str(error)


def test_notebook_global_is_caught_before_running(tmp_path: Path) -> None:
    error = _export_fails(
        tmp_path, "Scaled", PreflightError, "globals", source=USES_NOTEBOOK_GLOBAL
    )
    assert "uses SCALE but never defines or imports it (notebook globals?)" in str(error)


def test_notebook_global_is_caught_by_the_clean_run(tmp_path: Path) -> None:
    error = _export_fails(
        tmp_path, "Scaled", PreflightError, "globals", source=EVALS_NOTEBOOK_GLOBAL
    )
    assert "clean interpreter" in str(error)
    assert "NameError: name 'SCALE' is not defined" in str(error)


def test_import_nothing_provides(tmp_path: Path) -> None:
    source = "import surely_not_installed_anywhere\n" + USES_NOTEBOOK_GLOBAL.replace("SCALE", "2")
    error = _export_fails(tmp_path, "Scaled", PreflightError, "imports", source=source)
    assert "surely_not_installed_anywhere (line 1) is not installed here" in str(error)


def test_local_module_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SCENARIOS))
    source = "import boost_tint\n" + USES_NOTEBOOK_GLOBAL.replace("SCALE", "2")
    error = _export_fails(tmp_path, "Scaled", PreflightError, "imports", source=source)
    assert "boost_tint (line 1) is a local module" in str(error)


def test_relative_import(tmp_path: Path) -> None:
    source = "from .helpers import SCALE\n" + USES_NOTEBOOK_GLOBAL
    error = _export_fails(tmp_path, "Scaled", PreflightError, "imports", source=source)
    assert "relative import (from .helpers import …)" in str(error)


def test_module_imported_at_run_time_must_be_a_requirement(tmp_path: Path) -> None:
    error = _export_fails(tmp_path, "Sneaky", PreflightError, "imports", source=IMPORTS_AT_RUNTIME)
    assert "imported yaml (from PyYAML)" in str(error)
    # Naming it as a requirement is the fix.
    result = export("Sneaky", tmp_path / "ok", source=IMPORTS_AT_RUNTIME, requirements=["PyYAML"])
    assert "PyYAML" in (result.path / "requirements.txt").read_text().splitlines()


def test_initialize_that_takes_too_long(tmp_path: Path) -> None:
    error = _export_fails(
        tmp_path, "Slow", PreflightError, "timeout", source=SLOW_TO_START, preflight_timeout=3.0
    )
    assert "within 3 s" in str(error)


@pytest.mark.parametrize(
    "base",
    ["gpu", "CUDA", "python", "nvidia/cuda:12.4.1-runtime-ubuntu22.04", "python:3.11-slim\n"],
)
def test_unknown_or_unusable_base(tmp_path: Path, base: str) -> None:
    error = _export_fails(tmp_path, QUICKSTART, ExportError, "base", base=base)
    assert repr(base) in str(error) or base in str(error)


@pytest.mark.parametrize(
    "name",
    ["Green Tint", "GreenTint", "../etc", "tint-", "a" * 65, "x;rm", "", "tint..x", "tint\n"],
)
def test_capability_unsafe_for_a_label_or_tag(tmp_path: Path, name: str) -> None:
    error = _export_fails(tmp_path, QUICKSTART, ExportError, "capability", capability=name)
    assert "capability name is not usable" in str(error)


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({"port": 80}, "port"),
        ({"port": 70000}, "port"),
        ({"target": "docker"}, "target"),
        ({"tag": "Green:Tint"}, "tag"),
        ({"tag": "green-tint:1.0\n"}, "tag"),  # a newline would end a Dockerfile line
        ({"requirements": ["-e ."]}, "requirements"),
        ({"requirements": ["numpy\n--index-url http://evil"]}, "requirements"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, Any], check: str) -> None:
    _export_fails(tmp_path, QUICKSTART, ExportError, check, **kwargs)


def test_existing_destination_is_refused_unless_overwrite(tmp_path: Path) -> None:
    dest = tmp_path / "ctx"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="exists and is not empty") as caught:
        export(QUICKSTART, dest)
    assert caught.value.check == "destination"
    with pytest.raises(ExportError, match="does not hold an earlier export"):
        export(QUICKSTART, dest, overwrite=True)  # not ours: never deleted
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx"]  # no staging left behind

    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is not a directory"):
        export(QUICKSTART, tmp_path / "file")


def test_overwrite_replaces_an_earlier_export_whole(tmp_path: Path) -> None:
    dest = tmp_path / "ctx"
    first = export(QUICKSTART, dest, capability="first-name")
    (dest / "stale.txt").write_text("from before")
    second = export(QUICKSTART, dest, capability="second-name", overwrite=True)
    assert first.path == second.path == dest.resolve()
    assert sorted(p.name for p in dest.iterdir()) == sorted(second.files)
    assert "second-name" in (dest / "Dockerfile").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx"]
    # A failing re-export leaves the earlier one exactly as it was.
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    with pytest.raises(PreflightError):
        export("Scaled", dest, source=USES_NOTEBOOK_GLOBAL, overwrite=True)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_empty_destination_is_used(tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    result = byoc_lab.export(QUICKSTART, dest, capability="green-tint-cpu")
    assert (dest / "Dockerfile").is_file()
    assert result.path == dest.resolve()


def test_a_failure_while_writing_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_wheel(directory: Path) -> Path:
        (directory / "half-written.whl").write_bytes(b"PK")
        raise ExportError("no wheel today", check="wheel")

    monkeypatch.setattr("byoc_lab.export.api.build_wheel", broken_wheel)
    with pytest.raises(ExportError, match="no wheel today"):
        export(QUICKSTART, tmp_path / "deep" / "er" / "ctx")
    assert list(tmp_path.iterdir()) == []  # no context, no staging, no parents
