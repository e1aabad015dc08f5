"""A class typed into a plain cell is found even when cells run without history (nbval)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from IPython.core.interactiveshell import InteractiveShell
from byoc_lab.export.notebook import cell_history, notebook_source

shell = InteractiveShell.instance()
cells = [
    "import numpy as np",
    "LIFT = 40",
    "class Lift:\\n    def process(self, frame):\\n        return np.minimum(frame + LIFT, 255)",
    "unrelated = 1",
]
for cell in cells:
    assert shell.run_cell(cell, store_history={history}).success
print(len(cell_history()) > 1)
print(notebook_source("Lift"))
print(notebook_source("Missing"))
"""


def _run(history: bool) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(history=history)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def test_cells_run_without_history_are_read_from_the_compilers_cache() -> None:
    out = _run(history=False)
    assert out[0] == "False"  # nbval's situation: the history holds none of the cells
    text = "\n".join(out[1:])
    assert "import numpy as np" in text
    assert "LIFT = 40" in text
    assert "class Lift:" in text
    assert "unrelated" not in text  # only what the class uses
    assert out[-1] == "None"


def test_history_and_cache_give_the_same_module() -> None:
    assert _run(history=True)[1:] == _run(history=False)[1:]
