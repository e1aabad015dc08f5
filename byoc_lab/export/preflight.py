"""Preflight: would the processor run in the exported container? Checked before writing.

Two kinds of check, both raising :class:`~byoc_lab.errors.PreflightError` whose
``check`` names the failure and whose message says what to fix:

- static (:func:`check_source`): the source parses, defines the class, uses no name it
  never defines (a notebook global), and has no relative import;
- a clean run (:func:`run_probe`): ``processor.py`` alone in a temporary directory,
  loaded by a fresh ``python -I`` with a minimal environment (as in the container), the
  class created with the initial parameters, the contract and parameter schema
  checked, ``initialize()``, one frame through ``process()``, ``shutdown()``; then
  every module that loading pulled in must come from ``requirements.txt``
  (:func:`check_loaded_modules`).
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byoc_lab.errors import PreflightError
from byoc_lab.export.analysis import ImportUse, imports, parse_source, undefined_names
from byoc_lab.export.requirements import Requirements, canonical
from byoc_lab.export.source import ProcessorSource

__all__ = ["ProbeReport", "check_loaded_modules", "check_source", "run_probe"]

# What the clean interpreter inherits: enough to find programs, libraries and a GPU.
_ENV_KEEP = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
)


@dataclass(frozen=True)
class ProbeReport:
    """What the clean run learned.

    Attributes:
        input_kind: ``"rgb"`` or ``"bytes"``: what ``process`` receives.
        schema: the parameter schema (``ParamSpec.to_json()`` rows).
        modules: top-level modules loading and running the processor imported, with
            their files (None for built-in ones).
    """

    input_kind: str
    schema: tuple[dict[str, Any], ...]
    modules: dict[str, str | None]


def check_source(found: ProcessorSource) -> list[ImportUse]:
    """Static checks; returns the source's imports.

    Raises:
        PreflightError: ``check="globals"`` for names the source uses but never defines
            (what a class typed into a notebook takes from the kernel), ``"imports"``
            for a relative import, ``"source"`` for a syntax error.
    """
    tree = parse_source(found.text, found.origin)
    names = undefined_names(found.text, tree)
    if names:
        raise PreflightError(
            f"{found.origin} uses {', '.join(names)} but never defines or imports "
            f"{'it' if len(names) == 1 else 'them'} (notebook globals?)",
            check="globals",
            fix="define or import every name the processor uses in its own source: the "
            "container runs processor.py on its own",
        )
    return imports(tree, found.origin)


def run_probe(
    text: str, class_name: str, params: Mapping[str, Any], *, timeout: float
) -> ProbeReport:
    """Load and exercise ``text`` as ``processor.py`` in a clean interpreter.

    Raises:
        PreflightError: ``check`` is ``"load"``, ``"globals"``, ``"contract"``,
            ``"schema"``, ``"initialize"``, ``"process"`` or ``"shutdown"`` for a failure
            inside the run, ``"timeout"`` when it takes longer than ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="byoc_lab-preflight-") as tmp:
        context = Path(tmp) / "app"
        context.mkdir()
        (context / "processor.py").write_text(text, encoding="utf-8")
        result_path = Path(tmp) / "result.json"
        argv = [sys.executable, "-I", "-m", "byoc_lab.export._probe"]
        argv += [str(result_path), class_name, json.dumps(dict(params))]
        env = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
        try:
            done = subprocess.run(
                argv, cwd=context, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise PreflightError(
                f"processor.py did not load, initialise and process a test frame within "
                f"{timeout:g} s in a clean interpreter",
                check="timeout",
                fix="make initialize() faster, or pass a larger preflight_timeout",
            ) from exc
        if not result_path.exists():
            raise PreflightError(
                f"the clean interpreter exited with status {done.returncode} before "
                f"reporting: {_tail(done.stderr)}",
                check="load",
                fix="run `python processor.py` in an empty directory to see the traceback",
            )
        result = json.loads(result_path.read_text(encoding="utf-8"))
    if not result["ok"]:
        raise PreflightError(
            f"in a clean interpreter, with only processor.py: {result['message']}",
            check=result["check"],
            fix=None
            if result["has_fix"]
            else _FIXES.get(result["check"], "fix the processor and export again"),
        )
    return ProbeReport(result["input_kind"], tuple(result["schema"]), result["modules"])


_FIXES = {
    "globals": "define or import that name in the processor's own source: the container has "
    "no notebook globals",
    "load": "make processor.py importable on its own (python processor.py in an empty "
    "directory shows the traceback)",
    "contract": "give every __init__ argument a default and define process(self, frame)",
    "schema": "declare parameters as Param(default, min=…, max=…) with valid defaults",
    "initialize": "make initialize() work without the notebook (files it loads must be "
    "downloaded or copied into the image)",
    "process": "process() gets frames of any size; byoc_lab.check_processor() in the notebook "
    "shows every failing frame",
    "shutdown": "make shutdown() safe to call after initialize()",
}


def check_loaded_modules(report: ProbeReport, requirements: Requirements) -> None:
    """Every module the clean run loaded must be installed by ``requirements``.

    This catches imports the static reading cannot see (``importlib.import_module``,
    a plug-in a library loads). Standard library and byoc_lab modules are exempt.

    Raises:
        PreflightError: ``check="imports"``, naming the modules and their distributions.
    """
    providers = metadata.packages_distributions()
    stray = []
    for module in report.modules:
        if module in sys.stdlib_module_names or module.startswith(("byoc_lab", "_")):
            continue
        if module in requirements.modules:
            continue
        dists = providers.get(module, [])
        if dists and not any(canonical(d) in requirements.names for d in dists):
            stray.append(f"{module} (from {dists[0]})")
    if stray:
        raise PreflightError(
            "running processor.py imported " + ", ".join(stray) + ", which requirements.txt "
            "does not install",
            check="imports",
            fix="import it at the top of processor.py so export pins it, or pass "
            "requirements=['name==version']",
        )


def _tail(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]
