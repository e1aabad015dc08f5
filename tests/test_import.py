"""`import byoc_lab` stays light: fast, and no Jupyter, torch or PyAV."""

from __future__ import annotations

import json
import subprocess
import sys

CORE_MODULES = [
    "byoc_lab",
    "byoc_lab.browser_camera",
    "byoc_lab.builtins",
    "byoc_lab.capture",
    "byoc_lab.check",
    "byoc_lab.cli",
    "byoc_lab.editing",
    "byoc_lab.errors",
    "byoc_lab.framecode",
    "byoc_lab.frames",
    "byoc_lab.listeners",
    "byoc_lab.loader",
    "byoc_lab.params",
    "byoc_lab.preview",
    "byoc_lab.processor",
    "byoc_lab.runner",
    "byoc_lab.runtime",
    "byoc_lab.source_base",
    "byoc_lab.sources",
    "byoc_lab.synthetic",
    "byoc_lab.tracebacks",
    "byoc_lab.workbench",
    "byoc_lab.workbench_jobs",
    "byoc_lab.workbench_service",
    "byoc_lab.workbench_status",
    "byoc_lab.workbench_trial",
]


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def test_import_is_fast_and_pulls_in_no_heavy_or_ui_modules() -> None:
    out = _python(
        "import sys, time, json\n"
        "t = time.perf_counter(); import byoc_lab; dt = time.perf_counter() - t\n"
        "heavy = [m for m in ('ipywidgets', 'IPython', 'torch', 'av', 'cv2', 'aiohttp')"
        " if m in sys.modules]\n"
        "print(json.dumps({'seconds': dt, 'heavy': heavy}))\n"
    )
    found = json.loads(out)
    assert found["heavy"] == []
    # Best of three cold interpreters, so one slow start on a busy machine is not a failure.
    seconds = min([found["seconds"]] + [json.loads(_python(_TIMED))["seconds"] for _ in range(2)])
    assert seconds < 0.5, seconds


_TIMED = (
    "import time, json\n"
    "t = time.perf_counter(); import byoc_lab\n"
    "print(json.dumps({'seconds': time.perf_counter() - t}))\n"
)


def test_core_imports_without_jupyter_installed() -> None:
    code = (
        "import sys\n"
        "sys.modules['ipywidgets'] = None\n"
        "sys.modules['IPython'] = None\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    __import__(name)\n"
        "print('ok')\n"
    )
    assert _python(code).strip() == "ok"
