"""Turning processor source text (the editor, a ``%%processor`` cell) into a class.

:func:`compile_processor` runs the text the way Python runs a module, under a filename
such as ``<byoc_lab:editor#3>`` registered with :mod:`linecache`, so tracebacks and
:func:`~byoc_lab.tracebacks.describe_exception` name lines of that text. It then picks
the one processor class the text itself defines; classes it merely imports (``from
byoc_lab import GreenTint``) do not count. Every problem is a
:class:`~byoc_lab.errors.ProcessorSourceError` carrying the line it is on.

:func:`editable_source` goes the other way: the text an editor should show for a
processor that already exists.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import itertools
import logging
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import PreflightError, ProcessorSourceError
from .tracebacks import register_source, user_filename

__all__ = [
    "SOURCE_ATTRIBUTE",
    "CompiledProcessor",
    "compile_processor",
    "editable_source",
    "is_builtin",
]

logger = logging.getLogger(__name__)

SOURCE_ATTRIBUTE = "__byoc_lab_source__"
"""Class attribute holding the text a class was compiled from (read by export)."""

_modules = itertools.count(1)

_STARTER = '''
import numpy as np

from byoc_lab import FrameProcessor, Param


class MyProcessor(FrameProcessor):
    """Adds ``boost`` to the green channel."""

    boost = Param(80, min=0, max=255)

    def process(self, frame: np.ndarray) -> np.ndarray:
        out = frame.astype(np.int16)
        out[:, :, 1] += self.boost
        return np.clip(out, 0, 255).astype(np.uint8)
'''


@dataclass(frozen=True)
class CompiledProcessor:
    """A processor class compiled from source text.

    Attributes:
        cls: the one processor class the text defines.
        source: the text as given.
        filename: its ``<byoc_lab:label#n>`` name, registered with :mod:`linecache`.
        namespace: the globals the text ran in.
    """

    cls: type
    source: str
    filename: str
    namespace: dict[str, Any]


def compile_processor(
    source: str,
    *,
    label: str = "editor",
    namespace: dict[str, Any] | None = None,
    prefer: str | None = None,
) -> CompiledProcessor:
    """Run ``source`` and return the processor class it defines.

    Args:
        source: Python source defining exactly one processor class (a class with a
            ``process`` method, not abstract) at its top level.
        label: what the text is, for messages ("editor" -> "line 3 of the editor").
        namespace: the globals to run it in, e.g. IPython's ``user_ns`` so that its
            names land in the notebook like a normal cell's; None: a fresh module.
        prefer: when the text defines several processor classes (a file opened in the
            editor may) and one is named ``prefer``, that one is used. Classes that
            another class in the text derives from count as bases, not processors.

    The class gets ``__byoc_lab_source__ = source``, which export reads.

    Raises:
        ProcessorSourceError: a syntax error (``line`` is its line), an exception
            while running the text (``line`` is where it was raised), no processor
            class, or more than one.
    """
    filename = user_filename(label)
    register_source(filename, source)
    where = f"the {label}"
    try:
        tree = ast.parse(source, filename=filename)
        code = compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError too
        line = exc.lineno
        raise ProcessorSourceError(
            f"syntax error on line {line} of {where}: {exc.msg}",
            line=line,
            filename=filename,
            fix=f"correct line {line}; the previous processor keeps running",
        ) from None
    module = _fresh_module(label) if namespace is None else None
    globals_: dict[str, Any] = namespace if module is None else module.__dict__  # type: ignore[assignment]
    globals_.setdefault("__name__", f"byoc_lab_user.{label}")  # classes take it as __module__
    before = dict(globals_)  # holds the old objects, so identity tells new from old
    try:
        exec(code, globals_)
    except Exception as exc:  # user code may raise anything: reported with its line
        if module is not None:
            sys.modules.pop(module.__name__, None)
        raise _run_error(exc, filename, where) from exc
    candidates = _defined_processors(tree, globals_, before)
    names = [node.name for node in _class_statements(tree.body)]
    cls = _pick(candidates, where, filename, prefer, names)
    setattr(cls, SOURCE_ATTRIBUTE, source)
    return CompiledProcessor(cls, source, filename, globals_)


def _fresh_module(label: str) -> types.ModuleType:
    """A module registered in ``sys.modules`` (pickle, dataclasses and typing look there)."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in label) or "text"
    module = types.ModuleType(f"byoc_lab_user.{safe}_{next(_modules)}")
    module.__dict__["__builtins__"] = builtins
    sys.modules[module.__name__] = module
    return module


def _run_error(exc: Exception, filename: str, where: str) -> ProcessorSourceError:
    line = _line_in(exc, filename)
    at = f"line {line} of {where}" if line is not None else where
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    fix = (
        "import or define that name above the line"
        if isinstance(exc, NameError)
        else "correct the code that runs when the text is loaded"
    )
    return ProcessorSourceError(
        f"{at} raised {text}",
        line=line,
        filename=filename,
        fix=f"{fix}; the previous processor keeps running",
    )


def _line_in(exc: BaseException, filename: str) -> int | None:
    """The innermost traceback line of ``exc`` inside ``filename``, if any."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _class_statements(body: list[ast.stmt]) -> Iterator[ast.ClassDef]:
    """Class statements run at module level (also inside if/try/with blocks)."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.With):
            yield from _class_statements(node.body)
        elif isinstance(node, ast.If | ast.For | ast.While):
            yield from _class_statements(node.body + node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            blocks = node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                blocks += handler.body
            yield from _class_statements(blocks)


def _defined_processors(
    tree: ast.Module, globals_: dict[str, Any], before: dict[str, Any]
) -> list[tuple[type, int]]:
    """Processor classes created by this run's own class statements, with their lines."""
    module_name = globals_.get("__name__")
    found: dict[type, int] = {}
    for node in _class_statements(tree.body):
        value = globals_.get(node.name)
        if (
            isinstance(value, type)
            and before.get(node.name) is not value
            and value.__module__ == module_name
            and value.__qualname__ == node.name
            and callable(getattr(value, "process", None))
            and not inspect.isabstract(value)
        ):
            found.setdefault(value, node.lineno)
    bases = {base for cls in found for base in cls.__mro__[1:]}
    return [(cls, line) for cls, line in found.items() if cls not in bases]


def _pick(
    candidates: list[tuple[type, int]],
    where: str,
    filename: str,
    prefer: str | None,
    class_names: list[str],
) -> type:
    if len(candidates) == 1:
        return candidates[0][0]
    if not candidates:
        others = list(dict.fromkeys(class_names))
        raise ProcessorSourceError(
            f"{where} defines no processor class",
            filename=filename,
            expected="one class with a process(self, frame) method",
            got=f"classes with no usable process(): {', '.join(others)}" if others else "no class",
            fix="define e.g. `class MyProcessor(FrameProcessor):` with "
            "`def process(self, frame): return frame`",
        )
    preferred = [cls for cls, _ in candidates if cls.__name__ == prefer]
    if preferred:
        return preferred[0]
    names = ", ".join(cls.__name__ for cls, _ in candidates)
    raise ProcessorSourceError(
        f"{where} defines {len(candidates)} processor classes: {names}; keep one per cell/editor",
        line=candidates[1][1],
        filename=filename,
        fix="move the others to their own cell or file, or delete them",
    )


# -- the other way: text for an existing processor ----------------------------------------


def is_builtin(cls: type) -> bool:
    """True for classes defined by byoc_lab itself (GreenTint, Passthrough, ...)."""
    return cls.__module__ == "byoc_lab" or cls.__module__.startswith("byoc_lab.")


def editable_source(processor: Any, *, spec: str | None = None) -> str:
    """Source text an editor can show, change and apply for ``processor``.

    ``processor`` is a class or an instance; ``spec`` the ``"file.py:Class"`` it was
    loaded from, if any. In order: the file ``spec`` names; the text the class was
    compiled from (``__byoc_lab_source__``); for byoc_lab's built-ins (GreenTint,
    Passthrough, Grayscale) a self-contained module defining an equivalent class; the
    file of its module, or the notebook cells that defined it (as export finds them);
    else a commented starter processor saying why the source was not found.
    """
    from .export.source import resolve_source

    if spec is not None:
        try:
            return resolve_source(spec).text
        except PreflightError as exc:
            logger.info("no source file for %s (%s); using the class's source", spec, exc)
    cls = processor if isinstance(processor, type) else type(processor)
    captured = vars(cls).get(SOURCE_ATTRIBUTE)
    if isinstance(captured, str):
        return captured
    if is_builtin(cls):
        template = builtin_template(cls)
        if template is not None:
            return template
    try:
        return resolve_source(cls).text
    except PreflightError as exc:
        reason = exc.message
    return (
        f"# The source of {cls.__name__} was not found ({reason}).\n"
        "# Write a processor here and apply it, for example:\n" + _STARTER
    )


def builtin_template(cls: type) -> str | None:
    """A module defining ``cls`` (a class of a byoc_lab module) on its own, or None.

    The class's own source, after the imports of its module (relative imports made
    absolute), so the text compiles anywhere byoc_lab is installed.
    """
    module = sys.modules.get(cls.__module__)
    try:
        module_text = inspect.getsource(module) if module is not None else ""
        class_text = inspect.getsource(cls)
    except (OSError, TypeError):
        return None
    package = cls.__module__.rpartition(".")[0]
    imports = []
    for node in ast.parse(module_text).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            node = ast.ImportFrom(
                module=f"{base}.{node.module}" if node.module else base,
                names=node.names,
                level=0,
            )
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(ast.unparse(node))
    doc = f'"""{cls.__name__}: an editable copy of byoc_lab\'s built-in ({cls.__module__})."""'
    future = [line for line in imports if line.startswith("from __future__")]
    others = [line for line in imports if line not in future]
    head = [*future, ""] if future else []
    return "\n".join([doc, "", *head, *others, "", "", class_text.rstrip(), ""])
