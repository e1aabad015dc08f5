"""Packaging promises: environment.yml matches pyproject.toml; the public API is curated."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import byoc_lab


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_declares_the_same_dependencies_as_pyproject(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + extras["lab"] + extras["dev"]}
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    conda, pip = set(), set()
    for item in env["dependencies"]:
        if isinstance(item, dict):
            pip |= {_name(r) for r in item["pip"] if not r.startswith("-e")}
        else:
            conda.add(_name(item))
    declared = (conda | pip) - {"python", "pip"}
    assert declared == wanted
    assert "-e ." in next(i for i in env["dependencies"] if isinstance(i, dict))["pip"]


def test_no_environment_gets_both_opencv_builds(repo_root: Path) -> None:
    extras = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    lab = {_name(r) for r in extras["lab"]}
    container = {_name(r) for r in extras["container"]}
    assert "opencv-python" in lab
    assert "opencv-python-headless" in container
    assert "opencv-python-headless" not in lab
    assert "opencv-python" not in container


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(byoc_lab) if not name.startswith("_")}
    submodules = {name for name in public if type(getattr(byoc_lab, name)).__name__ == "module"}
    assert set(byoc_lab.__all__) == (public - submodules) | {"__version__"}
    assert byoc_lab.__all__ == sorted(byoc_lab.__all__)


def test_version_matches_pyproject(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert byoc_lab.__version__ == project["version"]
