"""The pure parts of export: spec checks, rendering, requirements, source analysis."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from byoc_lab.errors import ExportError
from byoc_lab.export import ContainerSpec, render_context, render_dockerfile, resolve_base
from byoc_lab.export.analysis import ImportUse, imports, parse_source, undefined_names
from byoc_lab.export.api import export
from byoc_lab.export.dockerfile import MARKER, entrypoint, label_value
from byoc_lab.export.files import python_literal
from byoc_lab.export.notebook import assemble_from_cells
from byoc_lab.export.requirements import resolve_requirements
from byoc_lab.export.spec import CPU_IMAGE, CUDA_IMAGE, default_capability
from byoc_lab.export.templates import fill
from byoc_lab.loader import load_processor_class

from .conftest import SCENARIOS, dockerfile, exec_form

RUFF = Path(sys.executable).with_name("ruff")


def test_bases() -> None:
    cpu, cuda = resolve_base("cpu"), resolve_base("cuda")
    assert (cpu.kind, cpu.image, cpu.python) == ("cpu", CPU_IMAGE, "3.11")
    assert cpu.torch_index == "https://download.pytorch.org/whl/cpu"
    assert (cuda.kind, cuda.image, cuda.python) == ("cuda", CUDA_IMAGE, "3.12")
    assert cuda.torch_index == "https://download.pytorch.org/whl/cu128"
    assert cuda.cuda_tag == "cu128"
    assert cpu.cuda_tag == ""
    other = resolve_base("nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04")
    assert (other.kind, other.cuda_tag) == ("cuda", "cu126")
    custom = resolve_base("python:3.12-slim-bookworm")
    assert (custom.kind, custom.python, custom.torch_index) == ("custom", "3.12", None)
    registry = resolve_base("registry.example.com:5000/team/base:1.0")
    assert (registry.kind, registry.python) == ("custom", None)


def test_default_capability_is_a_safe_name() -> None:
    assert default_capability("GreenTintProcessor") == "green-tint-processor"
    assert default_capability("HTTPFilter2D") == "http-filter2-d"
    assert default_capability("_") == "byoc-lab-worker"


def test_label_values_survive_dockerfile_quoting(tmp_path: Path) -> None:
    schema = [{"name": "x", "help": 'it\'s "$HOME" \\ \u00e9 \n'}]
    text = json.dumps(schema, separators=(",", ":"))
    parsed = DockerfileParser(str(tmp_path / "Dockerfile"))  # setting content writes it
    parsed.content = f"FROM scratch\nLABEL k={label_value(text)}\n"
    assert json.loads(parsed.labels["k"]) == schema


def test_entrypoint_carries_initial_parameters() -> None:
    spec = ContainerSpec(
        class_name="BoostTint",
        capability="tint",
        port=9000,
        initial_params=(("boost", 20), ("flag", True)),
    )
    assert entrypoint(spec)[-4:] == ["--param", "boost=20", "--param", "flag=true"]
    assert "--port" in entrypoint(spec)
    assert "9000" in entrypoint(spec)
    assert spec.tag == "tint:latest"
    assert python_literal({"b": True, "a": 'say "hi"', "c": 1.5}) == (
        '{"a": "say \\"hi\\"", "b": True, "c": 1.5}'
    )


@pytest.mark.parametrize("target", ["byoc_lab", "pytrickle"])
@pytest.mark.parametrize("base", ["cpu", "cuda", "python:3.12-slim"])
def test_every_variant_renders_and_parses(target: str, base: str, tmp_path: Path) -> None:
    spec = ContainerSpec(
        class_name="BoostTint",
        capability="tint",
        target=target,  # type: ignore[arg-type]  # the literal comes from the parameter
        base=resolve_base(base),
        params_schema=({"name": "boost", "type": "int", "default": 80},),
    )
    text = render_dockerfile(spec)
    assert text.startswith(MARKER)
    (tmp_path / "Dockerfile").write_text(text)
    parsed = dockerfile(tmp_path)
    assert parsed.baseimage == spec.base.image
    assert json.loads(parsed.labels["byoc-lab.params"]) == [dict(spec.params_schema[0])]
    assert parsed.labels["byoc-lab.target"] == target
    if base == "cuda":
        assert parsed.envs["PATH"].startswith("/opt/venv/bin")
        assert "python3-venv" in text
        assert "cu128" in text
    files = render_context(spec, "# processor\n")
    assert ("server.py" in files) == (target == "pytrickle")
    assert files["Dockerfile"] == text
    if target == "byoc_lab":
        assert exec_form(parsed, "ENTRYPOINT")[:3] == [
            "byoc-lab",
            "serve",
            "processor.py:BoostTint",
        ]
    assert "| `boost` | int | `80` |" in files["README.md"]


def test_generated_server_passes_the_projects_ruff(tmp_path: Path) -> None:
    spec = ContainerSpec(
        class_name="BoostTint",
        capability="tint",
        target="pytrickle",
        initial_params=(("boost", 20), ("mode", "keep")),
    )
    (tmp_path / "server.py").write_text(render_context(spec, "")["server.py"])
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(RUFF), *command, "--no-cache", str(tmp_path / "server.py")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_fill_is_strict() -> None:
    assert fill("a {{x}} ${Y} {z}", {"x": "1"}) == "a 1 ${Y} {z}"
    with pytest.raises(KeyError, match="missing"):
        fill("{{x}}", {})
    with pytest.raises(KeyError, match="unused"):
        fill("x", {"x": "1"})


def test_requirements_map_cv2_per_target_and_torch_to_its_index() -> None:
    opencv = metadata.version("opencv-python")
    uses = [ImportUse("cv2", 1, False), ImportUse("json", 2, False)]
    lab = resolve_requirements(uses, target="byoc_lab", base=resolve_base("cpu"))
    assert f"opencv-python-headless=={opencv}" in lab.lines
    assert not any(line.startswith("opencv-python==") for line in lab.lines)
    assert lab.modules == {"cv2": "opencv-python-headless"}
    trickle = resolve_requirements(uses, target="pytrickle", base=resolve_base("cuda"))
    assert f"opencv-python=={opencv}" in trickle.lines
    assert trickle.lines[0] == "--extra-index-url https://download.pytorch.org/whl/cu128"
    assert {"pytrickle==0.1.6", "av==14.2.0", "torch==2.13.0"} <= set(trickle.lines)
    # A requirement given by the caller provides what is not installed, and wins.
    torch = resolve_requirements(
        [ImportUse("torch", 1, False), ImportUse("numpy", 2, False)],
        target="byoc_lab",
        base=resolve_base("cpu"),
        extra=["torch==2.13.0", "numpy>=2"],
    )
    assert torch.lines[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert "torch==2.13.0" in torch.lines
    assert "numpy>=2" in torch.lines
    assert not any(line.startswith("numpy==") for line in torch.lines)
    # Optional imports that are missing are left out rather than refused.
    optional = resolve_requirements(
        [ImportUse("not_here_at_all", 3, True)], target="byoc_lab", base=resolve_base("cpu")
    )
    assert not any("not_here" in line for line in optional.lines)


def test_analysis_finds_imports_and_undefined_names() -> None:
    source = (
        "import os.path\n"
        "try:\n    import cv2\nexcept ImportError:\n    cv2 = None\n"
        "from byoc_lab import FrameProcessor\n"
        "def helper(x: Missing) -> Other:\n    return x + OFFSET + len(os.sep)\n"
        "class P(FrameProcessor):\n    k = FACTOR\n"
        "    def process(self, frame):\n        return helper(frame) * [i for i in range(3)][0]\n"
    )
    tree = parse_source(source)
    assert [(u.module, u.optional) for u in imports(tree)] == [
        ("os", False),
        ("cv2", True),
        ("byoc_lab", False),
    ]
    assert undefined_names(source) == ["FACTOR", "OFFSET"]
    assert undefined_names("from numpy import *\nx = y\n") == []


def test_notebook_cells_become_a_module_with_only_what_the_class_uses() -> None:
    cells = [
        "import numpy as np\nimport matplotlib.pyplot as plt\n",
        "from byoc_lab import FrameProcessor, Param, LocalNetwork\n",
        "BOOST = 40\nunused = 1\n",
        "def clip(x):\n    return np.minimum(x, 255)\n",
        "class Tint(FrameProcessor):\n    boost = Param(BOOST)\n"
        "    def process(self, frame):\n        return clip(frame + self.boost)\n"
        "net = LocalNetwork(Tint()).start()\nplt.show()\n",
        "BOOST = 60  # the kernel's latest value wins\n",
    ]
    module = assemble_from_cells(cells, "Tint")
    assert module is not None
    body = module.split("\n", 2)[2]
    assert [line for line in body.splitlines() if line] == [
        "import numpy as np",
        "from byoc_lab import FrameProcessor, Param",  # LocalNetwork is not needed
        "def clip(x):",
        "    return np.minimum(x, 255)",
        "class Tint(FrameProcessor):",
        "    boost = Param(BOOST)",
        "    def process(self, frame):",
        "        return clip(frame + self.boost)",
        "BOOST = 60  # the kernel's latest value wins",
    ]
    assert "\n\n\ndef clip(x):" in body  # two blank lines between top-level statements
    assert undefined_names(module) == []
    assert assemble_from_cells(cells, "Missing") is None


NOTEBOOK = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
cells = [
    "import numpy as np\nfrom byoc_lab import FrameProcessor, Param\n",
    "class CellTint(FrameProcessor):\n"
    "    boost = Param(80, min=0, max=255)\n"
    "    def process(self, frame: np.ndarray) -> np.ndarray:\n"
    "        out = frame.copy()\n"
    "        out[:, :, 1] = np.minimum(frame[:, :, 1].astype(np.uint16) + self.boost, 255)\n"
    "        return out\n",
    "import byoc_lab\n"
    f"result = byoc_lab.export(CellTint(boost=30), {sys.argv[1]!r}, capability='cell-tint')\n",
]
for cell in cells:
    outcome = shell.run_cell(cell, store_history=True)  # as a kernel runs cells
    if not outcome.success:
        raise SystemExit(f"cell failed: {outcome.error_in_exec or outcome.error_before_exec}")
result = shell.user_ns["result"]
print(json.dumps({"origin": result.spec.origin, "params": result.spec.initial_params}))
"""


def test_a_class_typed_into_a_notebook_cell_exports(tmp_path: Path) -> None:
    """A real IPython shell (in a subprocess): the class lives only in its history."""
    done = subprocess.run(
        [sys.executable, "-c", NOTEBOOK, str(tmp_path / "ctx")],
        env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")},  # history stays here
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info == {"origin": "notebook cells", "params": [["boost", 30]]}
    processor = (tmp_path / "ctx" / "processor.py").read_text()
    assert "import numpy as np" in processor
    assert "class CellTint" in processor
    assert "byoc_lab.export(" not in processor  # the exporting cell stays behind
    parsed = dockerfile(tmp_path / "ctx")
    assert exec_form(parsed, "ENTRYPOINT")[-2:] == ["--param", "boost=30"]


def test_export_of_a_class_from_a_file_takes_the_whole_file(tmp_path: Path) -> None:
    boost_tint = load_processor_class(f"{SCENARIOS / 'boost_tint.py'}:BoostTint")
    result = export(boost_tint, tmp_path / "ctx", capability="boost")
    assert (tmp_path / "ctx" / "processor.py").read_text() == (
        SCENARIOS / "boost_tint.py"
    ).read_text()
    assert result.spec.initial_params == ()
    schema = json.loads(dockerfile(result.path).labels["byoc-lab.params"])
    assert [row["name"] for row in schema] == ["boost", "mode"]
    assert schema[1]["help"] == "what to do (don't guess)"


def test_spec_refuses_what_the_checks_refuse() -> None:
    with pytest.raises(ExportError):
        ContainerSpec(class_name="X", capability="Bad Name")
    with pytest.raises(ExportError):
        ContainerSpec(class_name="not an identifier", capability="ok")


def test_built_in_processors_export_as_an_import_from_byoc_lab(tmp_path: Path) -> None:
    from byoc_lab import GreenTint

    for what, dest in ((GreenTint(boost=30), "a"), ("byoc_lab.builtins:GreenTint", "b")):
        result = export(what, tmp_path / dest)
        text = (result.path / "processor.py").read_text()
        assert "from byoc_lab.builtins import GreenTint" in text
        assert result.spec.capability == "green-tint"
        assert result.spec.origin == "byoc_lab.builtins"
        schema = json.loads(dockerfile(result.path).labels["byoc-lab.params"])
        assert [row["name"] for row in schema] == ["boost"]
    assert exec_form(dockerfile(tmp_path / "a"), "ENTRYPOINT")[-2:] == ["--param", "boost=30"]
    assert "--param" not in exec_form(dockerfile(tmp_path / "b"), "ENTRYPOINT")
