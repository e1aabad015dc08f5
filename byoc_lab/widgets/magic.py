"""The ``%%processor`` cell magic: define a processor in a cell and hot-swap it.

``%load_ext byoc_lab`` registers it. A cell::

    %%processor
    import numpy as np
    from byoc_lab import FrameProcessor, Param

    class GreenTint(FrameProcessor):
        boost = Param(80, min=0, max=255)
        def process(self, frame): ...

runs like a normal cell (its names land in the notebook), records its text on the
class for export (``__byoc_lab_source__``), and when a workbench exists (a
``byoc_lab.Lab``, or a :class:`~byoc_lab.workbench.Workbench`), swaps the class into
its preview and running worker. It prints one line saying what happened; a problem
prints the error with its line to stderr and the previous processor keeps running.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, magics_class

from byoc_lab.editing import compile_processor
from byoc_lab.errors import ByocLabError
from byoc_lab.runner import ProcessorRunner
from byoc_lab.workbench import current_workbench
from byoc_lab.workbench_trial import create_instance

__all__ = ["ProcessorMagics", "load_ipython_extension", "run_processor_cell"]


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%%processor`` with ``ipython`` (what ``%load_ext byoc_lab`` calls)."""
    ipython.register_magics(ProcessorMagics)


@magics_class
class ProcessorMagics(Magics):
    """Holds the ``%%processor`` cell magic."""

    @cell_magic
    def processor(self, line: str, cell: str) -> None:
        """Define a processor from this cell and hot-swap it into the current workbench."""
        shell = self.shell
        assert shell is not None
        if line.strip():
            print(f"%%processor takes no arguments; ignored {line.strip()!r}", file=sys.stderr)
        run_processor_cell(cell, shell.user_ns)


def run_processor_cell(
    cell: str,
    namespace: dict[str, Any],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> type | None:
    """Compile ``cell`` in ``namespace``, hot-swap it, print one line; the class or None.

    Never raises for the cell's content: errors go to ``err`` (stderr) with their line.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        cls = compile_processor(cell, label="cell", namespace=namespace).cls
        instance = create_instance(cls)
        described = ProcessorRunner(instance).describe()
    except ByocLabError as exc:
        print(f"%%processor: {exc}", file=err)
        return None
    head = f"{cls.__name__} defined{described.removeprefix(cls.__name__)}"
    bench = current_workbench()
    if bench is None:
        print(
            f"{head}; {_params(instance)}; no Lab running: use byoc_lab.Lab({cls.__name__})",
            file=out,
        )
        return cls
    try:
        result = bench.use(instance, source_text=cell)
    except ByocLabError as exc:
        print(f"%%processor: {cls.__name__} defined but not swapped in: {exc}", file=err)
        return cls
    where = " and the ".join(result.swapped_into)
    print(f"{head}; {_params(bench.processor)}; hot-swapped into the {where}", file=out)
    return cls


def _params(processor: object) -> str:
    get = getattr(processor, "get_params", None)
    params = dict(get()) if callable(get) else {}
    if not params:
        return "no params"
    return "params " + " ".join(f"{k}={v!r}" for k, v in params.items())
