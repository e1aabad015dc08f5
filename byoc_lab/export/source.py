"""Finding the source text that becomes ``processor.py``, and the class inside it.

What can be exported:

- ``"file.py:Class"`` or a path: the whole file (the class needs its imports and
  helpers); ``"file.py"`` alone when the file defines one processor class.
- ``"package.module:Class"``: the module's file.
- a class or an instance: the file of its module; for a class typed into a notebook
  cell (no file), the kernel's cell history (:mod:`byoc_lab.export.notebook`); for
  byoc_lab's built-ins, a ``processor.py`` that imports the class from byoc_lab (the
  wheel in the image has it). An instance also passes on the parameter values it has
  that differ from the defaults.
- ``source=`` text, from the notebook layer (the ``%%processor`` magic, the editor):
  used as is, the class named by the first argument (a class, an instance, a class
  name, or ``"anything:Class"``).
- a class (or an instance of one) compiled from text by the magic or the editor
  (:func:`byoc_lab.editing.compile_processor`): that text, which the class carries
  in its own ``__byoc_lab_source__`` attribute (not inherited by subclasses).

Nothing is imported or executed here; the source is only read and parsed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byoc_lab.editing import SOURCE_ATTRIBUTE
from byoc_lab.errors import PreflightError
from byoc_lab.export.analysis import (
    parse_source,
    processor_classes,
    top_level_classes,
    top_level_imports,
)
from byoc_lab.export.notebook import notebook_source

__all__ = ["ProcessorSource", "resolve_source"]


@dataclass(frozen=True)
class ProcessorSource:
    """The text of ``processor.py`` and what it is.

    Attributes:
        text: the module's source.
        class_name: the processor class it defines at its top level.
        origin: where it came from, for messages and comments (a file name, a module,
            ``"notebook cells"`` or ``"source text"``); never an absolute path.
        params: parameter values to start with, ``(name, value)`` pairs.
    """

    text: str
    class_name: str
    origin: str
    params: tuple[tuple[str, Any], ...] = ()


def resolve_source(processor_or_path: Any, *, source: str | None = None) -> ProcessorSource:
    """Find the source of ``processor_or_path`` (see the module docstring).

    Raises:
        PreflightError: (``check="source"``) no such file, module or class; a syntax
            error; or a class whose source cannot be found.
    """
    params: tuple[tuple[str, Any], ...] = ()
    if isinstance(processor_or_path, str | os.PathLike):
        spec = os.fspath(processor_or_path)
        if source is not None:
            name = spec.rpartition(":")[2] if ":" in spec else spec
            return _checked(ProcessorSource(source, name, "source text"))
        return _from_spec(spec)
    if isinstance(processor_or_path, type):
        cls = processor_or_path
    else:
        cls = type(processor_or_path)
        params = _changed_params(processor_or_path)
    if source is not None:
        return _checked(ProcessorSource(source, cls.__name__, "source text", params))
    captured = vars(cls).get(SOURCE_ATTRIBUTE)
    if isinstance(captured, str):
        return _checked(ProcessorSource(captured, cls.__name__, "source text", params))
    found = _byoc_lab_class(cls) or _module_file_source(cls) or _notebook(cls.__name__)
    return _checked(ProcessorSource(found[0], cls.__name__, found[1], params))


def _from_spec(spec: str) -> ProcessorSource:
    target, sep, class_name = spec.rpartition(":")
    if not sep or "/" in class_name or class_name.endswith(".py"):
        target, class_name = spec, ""
    if target.endswith(".py") or "/" in target or os.sep in target or Path(target).is_file():
        path = Path(target).expanduser()
        if not path.is_file():
            raise PreflightError(
                f"processor file {target!r} not found",
                check="source",
                expected="an existing .py file",
                got=f"nothing at {path.resolve()}",
                fix=f"check the path (relative to {Path.cwd()})",
            )
        text, origin = path.read_text(encoding="utf-8"), path.name
    else:
        built_in = _byoc_lab_import(target, class_name) if class_name else None
        text, origin = built_in or _module_text(target)
    if not class_name:
        classes = processor_classes(parse_source(text, origin))
        if len(classes) != 1:
            raise PreflightError(
                f"{origin} defines {len(classes) or 'no'} processor classes; name the one "
                "to export",
                check="source",
                got=", ".join(classes) or "none",
                fix=f"write it as {target}:ClassName",
            )
        class_name = classes[0]
    return _checked(ProcessorSource(text, class_name, origin))


def _module_text(module: str) -> tuple[str, str]:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        found = None
        reason = f" ({exc})"
    else:
        reason = ""
    origin = found.origin if found is not None else None
    if origin is None or not origin.endswith(".py") or not Path(origin).is_file():
        raise PreflightError(
            f"cannot find the source file of module {module!r}{reason}",
            check="source",
            fix="check the spelling, or give a file path such as ./my_processor.py:Class",
        )
    return Path(origin).read_text(encoding="utf-8"), module


def _byoc_lab_class(cls: type) -> tuple[str, str] | None:
    """A built-in (``byoc_lab.builtins.GreenTint``): a module that imports it from byoc_lab."""
    return _byoc_lab_import(cls.__module__, cls.__name__)


def _byoc_lab_import(module: str, name: str) -> tuple[str, str] | None:
    if module != "byoc_lab" and not module.startswith("byoc_lab."):
        return None
    text = (
        f'"""{name} from byoc_lab ({module}), as exported by byoc-lab export."""\n\n'
        f'from {module} import {name}\n\n__all__ = ["{name}"]\n'
    )
    return text, module


def _module_file_source(cls: type) -> tuple[str, str] | None:
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file.endswith(".py") or not Path(file).is_file():
        return None
    text = Path(file).read_text(encoding="utf-8")
    try:
        defined = top_level_classes(parse_source(text, Path(file).name))
    except PreflightError:
        return None
    if cls.__name__ not in defined:
        return None
    return text, Path(file).name


def _notebook(class_name: str) -> tuple[str, str]:
    text = notebook_source(class_name)
    if text is None:
        raise PreflightError(
            f"cannot find the source of class {class_name}",
            check="source",
            expected="a class defined in a .py file, or in a cell of the running notebook",
            fix=f"save it in a file and export 'file.py:{class_name}', or pass "
            "source= with the cell's code (the %%processor magic does)",
        )
    return text, "notebook cells"


def _checked(found: ProcessorSource) -> ProcessorSource:
    if not found.class_name.isidentifier():
        raise PreflightError(
            f"{found.class_name!r} is not a class name",
            check="source",
            expected="FILE.py:ClassName, a class, an instance, or a class name with source=",
        )
    tree = parse_source(found.text, found.origin)
    defined = top_level_classes(tree)
    if found.class_name not in defined + top_level_imports(tree):
        candidates = processor_classes(tree) or defined
        raise PreflightError(
            f"{found.origin} defines no class {found.class_name!r} at its top level",
            check="source",
            expected=f"one of {', '.join(candidates)}" if candidates else "a processor class",
            got="nothing by that name",
        )
    return found


def _changed_params(processor: object) -> tuple[tuple[str, Any], ...]:
    declared = getattr(processor, "declared_params", None)
    current = getattr(processor, "get_params", None)
    if not callable(declared) or not callable(current):
        return ()
    defaults = {name: param.default for name, param in declared().items()}
    values = current()
    return tuple(
        (name, value) for name, value in values.items() if defaults.get(name, value) != value
    )
