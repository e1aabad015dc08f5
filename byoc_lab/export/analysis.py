"""Reading a processor's source without running it: classes, imports, undefined names.

Used by preflight (before anything is written) and by the notebook capture, which
needs the same "what does this code use that it does not define" question answered
for single cells. Nothing here imports or executes the code it reads.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass

from byoc_lab.errors import PreflightError

__all__ = [
    "ImportUse",
    "bound_names",
    "imports",
    "parse_source",
    "processor_classes",
    "top_level_classes",
    "top_level_imports",
    "undefined_names",
]

_MODULE_NAMES = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__"}
)
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True)
class ImportUse:
    """One imported top-level module.

    Attributes:
        module: the top-level module name (``numpy`` for ``import numpy.linalg``).
        line: where it is imported.
        optional: imported inside ``try`` with an ``except ImportError`` (or broader),
            so the code runs without it.
    """

    module: str
    line: int
    optional: bool


def parse_source(text: str, filename: str = "processor.py") -> ast.Module:
    """Parse ``text``; a syntax error becomes a PreflightError naming the line."""
    try:
        return ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise PreflightError(
            f"{filename} has a syntax error on line {exc.lineno}: {exc.msg}",
            check="source",
            fix="fix that line",
        ) from exc


def top_level_classes(tree: ast.Module) -> list[str]:
    """Names of the classes defined at the top level, in order."""
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def top_level_imports(tree: ast.Module) -> list[str]:
    """Names bound at the top level by ``from module import Name`` (absolute imports)."""
    return [
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and not node.level
        for alias in node.names
        if alias.name != "*"
    ]


def processor_classes(tree: ast.Module) -> list[str]:
    """Top-level classes that define ``process`` or derive from a ``...FrameProcessor``."""
    found = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        methods = {
            item.name
            for item in node.body
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        bases = [ast.unparse(base) for base in node.bases]
        if "process" in methods or any(base.endswith("FrameProcessor") for base in bases):
            found.append(node.name)
    return found


def imports(tree: ast.Module, filename: str = "processor.py") -> list[ImportUse]:
    """Every module ``tree`` imports, anywhere in it (functions and ``try`` blocks too).

    Raises:
        PreflightError: a relative import, which cannot work in a context where
            ``processor.py`` is a module on its own.
    """
    optional_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for statement in node.body:
                optional_nodes.update(id(inner) for inner in ast.walk(statement))
    found: list[ImportUse] = []
    for node in ast.walk(tree):
        optional = id(node) in optional_nodes
        if isinstance(node, ast.Import):
            found += [ImportUse(a.name.split(".")[0], node.lineno, optional) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise PreflightError(
                    f"{filename} line {node.lineno} has a relative import "
                    f"(from {'.' * node.level}{node.module or ''} import …)",
                    check="imports",
                    fix="processor.py runs as a module of its own in the container: use "
                    "absolute imports, such as `from byoc_lab import FrameProcessor`",
                )
            if node.module and node.module != "__future__":
                found.append(ImportUse(node.module.split(".")[0], node.lineno, optional))
    return sorted(found, key=lambda use: use.line)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(ast.unparse(kind).rsplit(".", 1)[-1] in _IMPORT_ERRORS for kind in kinds)


def undefined_names(text: str, tree: ast.Module | None = None) -> list[str]:
    """Names the code uses but neither defines, imports nor gets from builtins.

    In a notebook these are the kernel's globals, which an exported ``processor.py``
    does not have. Names used only in annotations are left out (they are often never
    evaluated), and a module with ``from x import *`` is not judged at all.
    """
    tree = tree if tree is not None else parse_source(text)
    if any(
        isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)
        for node in ast.walk(tree)
    ):
        return []
    top = symtable.symtable(text, "processor.py", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    referenced = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    tables = list(top.get_children())
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        for symbol in table.get_symbols():
            if symbol.is_declared_global() and symbol.is_assigned():
                defined.add(symbol.get_name())
            elif symbol.is_global() and symbol.is_referenced():
                referenced.add(symbol.get_name())
    missing = referenced - defined - set(dir(builtins)) - _MODULE_NAMES
    return sorted(missing & _names_used_in_code(tree))


def _names_used_in_code(tree: ast.Module) -> set[str]:
    annotations: set[int] = set()
    for node in ast.walk(tree):
        roots: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
        for root in roots:
            if root is not None:
                annotations.update(id(inner) for inner in ast.walk(root))
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Load)
        and id(node) not in annotations
    }


def bound_names(node: ast.stmt) -> set[str]:
    """Module-level names a top-level statement binds (imports, defs, plain assignments)."""
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        return {alias.asname or alias.name for alias in node.names if alias.name != "*"}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    return {
        inner.id
        for target in targets
        for inner in ast.walk(target)
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store)
    }
