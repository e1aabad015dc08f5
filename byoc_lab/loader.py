"""Loading processors from ``"path/to/file.py:Class"`` or ``"package.module:Class"``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import ContractError, ProcessorLoadError
from .processor import FrameProcessor

__all__ = ["as_processor", "find_processor_classes", "load_processor", "load_processor_class"]


def load_processor(spec: str, **params: Any) -> Any:
    """Load and instantiate the processor named by ``spec``.

    Args:
        spec: ``"file.py:Class"``, ``"pkg.module:Class"``, or a file or module alone
            when it defines exactly one processor class.
        **params: declared parameter values to set on the new instance.

    Raises:
        ProcessorLoadError: the file, module or class cannot be found or imported.
        ContractError: the class cannot be instantiated without arguments.
    """
    return instantiate(load_processor_class(spec), **params)


def load_processor_class(spec: str) -> type:
    """Return the processor class named by ``spec`` (see :func:`load_processor`)."""
    target, _, class_name = _split(spec)
    module = _import_target(target, spec)
    if class_name:
        cls = getattr(module, class_name, None)
        if not isinstance(cls, type):
            names = [c.__name__ for c in find_processor_classes(module)]
            raise ProcessorLoadError(
                f"{target!r} defines no class {class_name!r}",
                expected=f"one of {', '.join(names)}" if names else "a processor class",
                got=f"{type(cls).__name__}" if cls is not None else "nothing by that name",
                fix=f"use {target}:{names[0]}" if len(names) == 1 else "check the class name",
            )
        return cls
    classes = find_processor_classes(module)
    if len(classes) == 1:
        return classes[0]
    raise ProcessorLoadError(
        f"{target!r} defines {len(classes) or 'no'} processor classes; name the one to load",
        expected="exactly one class with a process(frame) method, or FILE:Class",
        got=", ".join(c.__name__ for c in classes) or "none",
        fix=f"write it as {target}:ClassName",
    )


def find_processor_classes(module: ModuleType) -> list[type]:
    """Classes defined in ``module`` that have a ``process`` method (bases excluded)."""
    found: list[type] = []
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and value.__module__ == module.__name__
            and callable(getattr(value, "process", None))
            and not inspect.isabstract(value)
        ):
            found.append(value)
    return found


def instantiate(cls: type, **params: Any) -> Any:
    """Create ``cls()`` and apply ``params``, with contract errors for what goes wrong."""
    try:
        instance = cls()
    except TypeError as exc:
        raise ContractError(
            f"{cls.__name__}() cannot be created without arguments ({exc})",
            fix="give every __init__ argument a default; tunable values belong in Param()s",
        ) from exc
    if params:
        if not isinstance(instance, FrameProcessor):
            raise ContractError(
                f"{cls.__name__} is not a byoc_lab FrameProcessor, so it has no parameters to set"
            )
        instance.update_params(params)
    return instance


def as_processor(value: Any) -> Any:
    """Turn a spec string, a class or an instance into a processor instance."""
    if isinstance(value, str):
        return load_processor(value)
    if isinstance(value, type):
        return instantiate(value)
    return value


def _split(spec: str) -> tuple[str, str, str]:
    target, sep, class_name = spec.rpartition(":")
    if not sep or "/" in class_name or class_name.endswith(".py"):
        return spec, "", ""
    if not class_name.isidentifier():
        raise ProcessorLoadError(
            f"{spec!r} does not name a class",
            expected="FILE.py:ClassName or package.module:ClassName",
            got=f"class part {class_name!r}",
        )
    return target, sep, class_name


def _import_target(target: str, spec: str) -> ModuleType:
    if target.endswith(".py") or "/" in target or "\\" in target:
        return _import_file(Path(target), spec)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise ProcessorLoadError(
            f"cannot import module {target!r} ({exc})",
            fix="check the spelling, or give a file path such as ./my_processor.py:Class",
        ) from exc


def _import_file(path: Path, spec: str) -> ModuleType:
    path = path.expanduser()
    if not path.is_file():
        raise ProcessorLoadError(
            f"processor file {str(path)!r} not found",
            expected="an existing .py file",
            got=f"nothing at {path.resolve()}",
            fix=f"check the path (relative to {Path.cwd()})",
        )
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    name = f"byoc_lab_user.{resolved.stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ProcessorLoadError(f"{str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise ProcessorLoadError(
            f"{path} has a syntax error on line {exc.lineno}: {exc.msg}", fix="fix the line"
        ) from exc
    except Exception as exc:  # user code at import time may raise anything: report, don't crash
        sys.modules.pop(name, None)
        raise ProcessorLoadError(
            f"importing {path} for {spec!r} raised {type(exc).__name__}: {exc}",
            fix="run the file with python to see the full traceback",
        ) from exc
    return module
