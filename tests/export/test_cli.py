"""``byoc-lab export`` as users run it: a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import dockerfile


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("byoc-lab")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_export_the_quickstart_then_refuse_then_overwrite(repo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    spec = f"{repo_root / 'examples' / 'green_tint.py'}:GreenTintProcessor"
    first = _run("export", spec, str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "as the BYOC capability 'green-tint-processor'" in first.stdout
    assert f"Build: docker build -t green-tint-processor:latest {out}" in first.stdout
    assert (out / "Dockerfile").is_file()
    assert (out / "byoc_lab-0.1.0-py3-none-any.whl").is_file()

    again = _run("export", spec, str(out), cwd=tmp_path)
    assert again.returncode == 2
    assert "byoc-lab export: error:" in again.stderr
    assert "is not empty" in again.stderr
    assert "Traceback" not in again.stderr

    replaced = _run(
        "export",
        spec,
        str(out),
        "--overwrite",
        "--capability",
        "green-tint-gpu",
        "--base",
        "cuda",
        "--target",
        "pytrickle",
        "--port",
        "9000",
        "-r",
        "PyYAML",
        cwd=tmp_path,
    )
    assert replaced.returncode == 0, replaced.stderr
    parsed = dockerfile(out)
    assert parsed.baseimage.startswith("nvidia/cuda:")
    assert parsed.labels["byoc-lab.capability"] == "green-tint-gpu"
    assert parsed.envs["PORT"] == "9000"
    assert (out / "server.py").is_file()
    assert "PyYAML" in (out / "requirements.txt").read_text().splitlines()


def test_build_without_an_engine_says_what_to_run(repo_root: Path, tmp_path: Path) -> None:
    from byoc_lab.export.build import docker_engine_problem

    problem = docker_engine_problem()
    out = tmp_path / "ctx"
    result = _run(
        "export",
        "examples/green_tint.py",
        str(out),
        "--build",
        "--tag",
        "lab/tint:1",
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    if problem is None:  # an engine answered: the image was built
        assert "Built the image lab/tint:1." in result.stdout
        return
    assert "No Docker engine here" in result.stdout
    assert f"docker build -t lab/tint:1 {out}" in result.stdout


def test_bad_input_is_one_line_and_exit_2(repo_root: Path, tmp_path: Path) -> None:
    result = _run(
        "export", "examples/green_tint.py", str(tmp_path / "x"), "--base", "gpu", cwd=repo_root
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("byoc-lab export: error: unknown base 'gpu'")
    )
    assert not (tmp_path / "x").exists()
