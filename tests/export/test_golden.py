"""The quickstart's exported context: golden files, structure, hadolint, no secrets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from byoc_lab import __version__
from byoc_lab.export.api import ExportResult
from byoc_lab.export.requirements import canonical
from byoc_lab.export.templates import TEMPLATE_NAMES
from byoc_lab.export.wheel import package_files

from .conftest import dockerfile, exec_form, instructions
from .golden import EXAMPLES, GOLDEN, PACKAGE_TEMPLATES, ROOT, TEMPLATES

HADOLINT = Path(sys.executable).with_name("hadolint")
REGENERATE = "run `make golden` if the change is intended"


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "-")):
            name, _, version = line.partition("==")
            pins[canonical(name)] = version
    return pins


@pytest.fixture(params=sorted(GOLDEN))
def golden_pair(
    request: pytest.FixtureRequest, green_context: ExportResult, pytrickle_context: ExportResult
) -> tuple[ExportResult, Path]:
    name = request.param
    rendered = green_context if GOLDEN[name] == "byoc_lab" else pytrickle_context
    return rendered, EXAMPLES / name


def test_rendered_context_equals_the_golden_one(golden_pair: tuple[ExportResult, Path]) -> None:
    rendered, golden = golden_pair
    wheel = rendered.spec.wheel
    names = {path.name for path in rendered.path.iterdir()}
    assert names == set(rendered.files)
    assert names - {wheel} == {path.name for path in golden.iterdir()}, REGENERATE
    assert wheel == f"byoc_lab-{__version__}-py3-none-any.whl"
    assert f"COPY {wheel} /tmp/" in (golden / "Dockerfile").read_text()  # its name, not bytes
    for name in sorted(names - {wheel, "requirements.txt"}):
        assert (rendered.path / name).read_text() == (golden / name).read_text(), (
            f"{golden.name}/{name} differs: {REGENERATE}"
        )
    # Versions are the environment's (next test); the golden file shows the set of pins.
    ours = _pins((rendered.path / "requirements.txt").read_text())
    assert ours.keys() == _pins((golden / "requirements.txt").read_text()).keys(), REGENERATE


def test_requirements_pin_this_environments_versions(green_context: ExportResult) -> None:
    import importlib.metadata as metadata

    pins = _pins((green_context.path / "requirements.txt").read_text())
    assert {"numpy", "aiohttp", "av", "yarl", "multidict"} <= pins.keys()
    assert "byoc-lab" not in pins  # the wheel, installed with --no-deps
    for name, version in pins.items():
        assert metadata.version(name) == version, name


def test_the_processor_is_the_quickstarts_file_unchanged(green_context: ExportResult) -> None:
    original = (ROOT / "examples" / "green_tint.py").read_text()
    assert (green_context.path / "processor.py").read_text() == original


def test_templates_in_the_package_equal_docker_templates() -> None:
    canonical_names = sorted(path.name for path in TEMPLATES.glob("*.tmpl"))
    assert canonical_names == sorted(TEMPLATE_NAMES)
    assert sorted(path.name for path in PACKAGE_TEMPLATES.glob("*.tmpl")) == canonical_names
    for name in canonical_names:
        assert (PACKAGE_TEMPLATES / name).read_bytes() == (TEMPLATES / name).read_bytes(), (
            f"byoc_lab/export/templates/{name} is not docker/templates/{name}: "
            "edit docker/templates/ and run `make golden`"
        )


def test_dockerfile_structure(green_context: ExportResult) -> None:
    parsed = dockerfile(green_context.path)
    assert parsed.baseimage == "python:3.11-slim"
    assert instructions(parsed, "FROM") == ["python:3.11-slim"]  # one stage
    users = instructions(parsed, "USER")
    assert users
    assert users[-1] not in ("root", "0")
    assert not users[-1].startswith("0:")
    assert instructions(parsed, "EXPOSE") == ["8000"]
    health = instructions(parsed, "HEALTHCHECK")
    assert len(health) == 1
    assert "/health" in health[0]
    assert "urllib.request" in health[0]
    labels = parsed.labels
    assert labels["byoc-lab.capability"] == "green-tint-cpu"
    assert labels["byoc-lab.version"] == __version__
    assert json.loads(labels["byoc-lab.params"]) == []
    assert exec_form(parsed, "ENTRYPOINT") == [
        "byoc-lab",
        "serve",
        "processor.py:GreenTintProcessor",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--capability",
        "green-tint-cpu",
    ]
    assert instructions(parsed, "CMD") == []
    # Dependencies before source: requirements, then the wheel, then processor.py.
    order = [item["value"] for item in parsed.structure if item["instruction"] in ("COPY", "RUN")]
    copies = [value for value in order if not value.startswith(("useradd", "pip"))]
    assert copies[0].startswith("requirements.txt")
    assert copies[-1].startswith("processor.py")
    text = (green_context.path / "Dockerfile").read_text()
    assert "--mount" not in text
    assert "syntax=" not in text
    assert "<<" not in text


def test_pytrickle_dockerfile_runs_the_generated_server(pytrickle_context: ExportResult) -> None:
    parsed = dockerfile(pytrickle_context.path)
    assert exec_form(parsed, "ENTRYPOINT") == ["python", "server.py"]
    assert parsed.envs["CAPABILITY_NAME"] == "green-tint-cpu"
    assert parsed.labels["byoc-lab.target"] == "pytrickle"
    requirements = (pytrickle_context.path / "requirements.txt").read_text().splitlines()
    assert {"pytrickle==0.1.6", "av==14.2.0", "torch==2.13.0"} <= set(requirements)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    assert "!server.py" in (pytrickle_context.path / ".dockerignore").read_text()


@pytest.mark.parametrize("target", ["byoc_lab", "pytrickle"])
def test_hadolint_finds_nothing(
    target: str, green_context: ExportResult, pytrickle_context: ExportResult
) -> None:
    context = green_context if target == "byoc_lab" else pytrickle_context
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "error", "Dockerfile"],
        cwd=context.path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " error: " not in result.stdout, result.stdout
    assert " warning: " not in result.stdout, result.stdout  # stricter than asked: no warnings


def test_compose_file_has_the_worker_and_a_go_livepeer_profile(green_context: ExportResult) -> None:
    compose = yaml.safe_load((green_context.path / "compose.yml").read_text())
    services = compose["services"]
    worker = services["worker"]
    assert worker["build"] == "."
    assert worker["ports"] == ["8000:8000"]
    assert worker["env_file"] == [{"path": "register.env", "required": False}]
    assert worker["command"] == ["--orch-insecure", "--trickle-insecure"]
    assert "profiles" not in worker
    orchestrator, gateway = services["orchestrator"], services["gateway"]
    assert orchestrator["profiles"] == gateway["profiles"] == ["livepeer"]
    # Only flags go-livepeer has (cmd/livepeer/starter/flags.go), none the seed invented.
    real = {"-orchestrator", "-gateway", "-network", "-serviceAddr", "-orchSecret", "-orchAddr"}
    real |= {"-httpAddr", "-httpIngest", "-pricePerUnit", "-v"}
    for service in (orchestrator, gateway):
        assert service["image"].startswith("livepeer/go-livepeer:")
        assert {flag.split("=", 1)[0] for flag in service["command"]} <= real
    assert "-byoc" not in (green_context.path / "compose.yml").read_text()


def test_no_secret_leaks_into_the_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, green_context: ExportResult
) -> None:
    from .golden import export_quickstart

    secret = "sekret-d41d8cd98f00b204e9800998ecf8427e"
    monkeypatch.setenv("ORCH_SECRET", secret)
    result = export_quickstart(tmp_path / "ctx", "pytrickle")
    for context in (result.path, green_context.path):
        for path in context.iterdir():
            data = path.read_bytes()
            assert secret.encode() not in data, path.name
            if path.suffix == ".whl":
                with zipfile.ZipFile(path) as archive:
                    for name in archive.namelist():
                        assert secret.encode() not in archive.read(name), name
        example = (context / "register.env.example").read_text()
        assert re.search(r"^ORCH_SECRET=$", example, re.MULTILINE)
        ignored = (context / ".dockerignore").read_text().splitlines()
        assert ignored[2] == "*"
        assert "!register.env" not in ignored


def test_the_wheel_holds_what_setuptools_builds(
    green_context: ExportResult, tmp_path: Path
) -> None:
    """Our offline wheel has the files of `pip wheel` on a copy of the checkout."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "byoc_lab", source / "byoc_lab", ignore=shutil.ignore_patterns("__pycache__")
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(f"pip wheel failed (network?): {built.stderr[-800:]}")
    [reference] = tmp_path.glob("byoc_lab-*.whl")
    with zipfile.ZipFile(reference) as theirs:
        expected = {name for name in theirs.namelist() if ".dist-info/" not in name}
        their_entry_points = theirs.read(f"byoc_lab-{__version__}.dist-info/entry_points.txt")
    with zipfile.ZipFile(green_context.path / green_context.spec.wheel) as ours:
        assert ours.testzip() is None
        got = {name for name in ours.namelist() if ".dist-info/" not in name}
        assert ours.read(f"byoc_lab-{__version__}.dist-info/entry_points.txt") == (
            their_entry_points
        )
    assert got == expected
    assert {name for name, _ in package_files()} == expected
