"""The source of a class defined in a notebook cell, rebuilt from IPython's history.

``inspect.getsource`` cannot find a class defined in a plain cell: its module is the
kernel's ``__main__``, which has no file. IPython keeps every executed cell, so the
class's cell and the imports and definitions it uses can be found there.

The core never imports IPython: a running kernel has already imported it, so it is
looked up in ``sys.modules``; outside a kernel there is no history and :func:`cell_history`
returns nothing. The notebook layer (the ``%%processor`` magic, the editor) knows
exactly what the user wrote and passes it to :func:`byoc_lab.export` as ``source=``;
this module is the fallback for a class typed into an ordinary cell.
"""

from __future__ import annotations

import ast
import linecache
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from byoc_lab.errors import PreflightError
from byoc_lab.export.analysis import bound_names, undefined_names

__all__ = ["assemble_from_cells", "cell_history", "compiled_cells", "notebook_source"]

HEADER = (
    "# Captured by byoc-lab export from notebook cells: the class and the imports and\n"
    "# definitions it uses, in the order the cells ran.\n"
)


@dataclass(frozen=True)
class _Statement:
    cell: int
    index: int
    text: str
    binds: frozenset[str]
    node: ast.stmt


def _shell() -> object | None:
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


def cell_history() -> list[str]:
    """The running IPython kernel's executed cells as Python, oldest first ([] outside)."""
    manager = getattr(_shell(), "history_manager", None)
    cells = getattr(manager, "input_hist_parsed", None) or []
    return [cell for cell in cells if isinstance(cell, str)]


def compiled_cells() -> list[str]:
    """The cells IPython compiled, oldest first, from :mod:`linecache` ([] outside).

    Cells run without history (``store_history=False``, as nbval and some front ends
    run them) are missing from :func:`cell_history`, but IPython's compiler still
    caches every cell's text for tracebacks, under a name it remembers.
    """
    names = getattr(getattr(_shell(), "compile", None), "_filename_map", None)
    if not isinstance(names, dict):
        return []
    cells = []
    for name in names:
        lines = linecache.getlines(name) if isinstance(name, str) else []
        if lines:
            cells.append("".join(lines))
    return cells


def notebook_source(class_name: str) -> str | None:
    """A module defining ``class_name``, assembled from the kernel's cells, or None."""
    return assemble_from_cells(cell_history(), class_name) or assemble_from_cells(
        compiled_cells(), class_name
    )


def assemble_from_cells(cells: Sequence[str], class_name: str) -> str | None:
    """A module holding the latest definition of ``class_name`` among ``cells``.

    Alongside the class come the top-level imports, functions, classes and plain
    assignments it uses, directly or through each other (the latest of each, as the
    kernel has them), in the order they ran. Other statements (calls, displays,
    servers started) stay behind. Names no cell defines are left for preflight to
    report. Returns None when no cell defines ``class_name`` at its top level.
    """
    statements: list[_Statement] = []
    futures: list[str] = []
    target: _Statement | None = None
    for cell_index, cell in enumerate(cells):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        lines = cell.splitlines(keepends=True)
        for index, node in enumerate(tree.body):
            text = _segment(lines, node)
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                futures.append(text.rstrip("\n"))
                continue
            binds = frozenset(bound_names(node))
            if not binds:
                continue
            statement = _Statement(cell_index, index, text, binds, node)
            statements.append(statement)
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                target = statement
    if target is None:
        return None
    latest = {name: s for s in statements for name in s.binds}
    latest[class_name] = target
    used: dict[_Statement, set[str]] = {target: {class_name}}
    pending = _free(target.text)
    while pending:
        name = pending.pop()
        found = latest.get(name)
        if found is None:
            continue
        if found not in used:
            pending |= _free(found.text)
        used.setdefault(found, set()).add(name)
    ordered = sorted(used, key=lambda s: (s.cell, s.index))
    head = HEADER + "".join(f"{line}\n" for line in dict.fromkeys(futures))
    texts = [_text(s, used[s]) for s in ordered]
    return head + "\n" + "\n\n".join(text.rstrip("\n") + "\n" for text in texts)


def _text(statement: _Statement, names: set[str]) -> str:
    """The statement's source; an import keeps only the names the class needs."""
    node = statement.node
    if isinstance(node, ast.Import | ast.ImportFrom):
        kept = [a for a in node.names if (a.asname or a.name.split(".")[0]) in names]
        if len(kept) < len(node.names):
            trimmed: ast.stmt = ast.Import(names=kept)
            if isinstance(node, ast.ImportFrom):
                trimmed = ast.ImportFrom(module=node.module, names=kept, level=node.level)
            return ast.unparse(trimmed) + "\n"
    return statement.text


def _segment(lines: list[str], node: ast.stmt) -> str:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    end = node.end_lineno if node.end_lineno is not None else node.lineno
    return "".join(lines[start - 1 : end])


def _free(text: str) -> set[str]:
    try:
        return set(undefined_names(text))
    except (PreflightError, SyntaxError):  # a fragment symtable cannot judge: take it as is
        return set()
