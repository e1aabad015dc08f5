"""``byoc_lab.export``: lazy, callable however it was imported, and free of Jupyter."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "byoc_lab.export",
    "byoc_lab.export.analysis",
    "byoc_lab.export.api",
    "byoc_lab.export.build",
    "byoc_lab.export.context",
    "byoc_lab.export.dockerfile",
    "byoc_lab.export.files",
    "byoc_lab.export.notebook",
    "byoc_lab.export.preflight",
    "byoc_lab.export.requirements",
    "byoc_lab.export.source",
    "byoc_lab.export.spec",
    "byoc_lab.export.templates",
    "byoc_lab.export.wheel",
    "byoc_lab.cli.export",
]


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_byoc_lab_does_not_load_export() -> None:
    assert _python("import sys, byoc_lab; print('byoc_lab.export' in sys.modules)") == "False"


def test_export_is_callable_whichever_way_it_was_imported() -> None:
    code = (
        "import inspect, byoc_lab\n"
        "{first}\n"
        "assert callable(byoc_lab.export)\n"
        "assert byoc_lab.export.render_dockerfile.__name__ == 'render_dockerfile'\n"
        "from byoc_lab import export\n"
        "assert export is byoc_lab.export and callable(export)\n"
        "assert 'capability' in inspect.signature(byoc_lab.export).parameters\n"
        "print('ok')\n"
    )
    for first in ("import byoc_lab.export.spec", "byoc_lab.export", "pass"):
        assert _python(code.format(first=first)) == "ok", first


def test_export_modules_import_without_jupyter() -> None:
    code = (
        "import sys\n"
        "sys.modules['IPython'] = None\n"
        "sys.modules['ipywidgets'] = None\n"
        f"for name in {MODULES!r}:\n"
        "    __import__(name)\n"
        "from byoc_lab.export.notebook import cell_history\n"
        "assert cell_history() == []\n"
        "print('ok')\n"
    )
    assert _python(code) == "ok"
