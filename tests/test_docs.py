"""The README's promises: its Python taste runs, and it gives the two set-up commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_readme_gives_the_two_setup_commands_first(repo_root: Path) -> None:
    text = (repo_root / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make lab", "make test"]


def test_readme_python_taste_runs_and_prints_a_clean_report(repo_root: Path) -> None:
    text = (repo_root / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    code_lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(code_lines) <= 12
    result = subprocess.run(
        [sys.executable, "-c", block.group(1)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert "30 (30 ok, 0 failed)" in result.stdout
    assert "GreenTint (RGB array in/out, sync)" in result.stdout


def test_every_listed_notebook_exists_and_every_notebook_is_listed(repo_root: Path) -> None:
    text = (repo_root / "README.md").read_text()
    listed = set(re.findall(r"`notebooks/([\w-]+\.ipynb)`", text))
    on_disk = {p.name for p in (repo_root / "notebooks").glob("*.ipynb")}
    assert listed == on_disk
