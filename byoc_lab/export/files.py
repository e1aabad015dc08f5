"""Rendering every text file of a build context: a pure function of the spec and source.

:func:`render_context` returns ``{file name: text}`` for everything except the byoc_lab
wheel, which :mod:`byoc_lab.export.wheel` writes. No file holds a secret:
``register.env.example`` leaves ``ORCH_SECRET`` empty and ``.dockerignore`` keeps a
filled-in ``register.env`` out of the image.
"""

from __future__ import annotations

import json
from typing import Any

from byoc_lab.export.dockerfile import render_dockerfile
from byoc_lab.export.spec import PYTRICKLE_VERSION, ContainerSpec
from byoc_lab.export.templates import render_template

__all__ = ["context_files", "python_literal", "render_context"]

_DESCRIPTIONS = {
    "Dockerfile": "the image: dependencies, byoc_lab, the processor, a non-root user",
    "processor.py": "the processor's source, as exported",
    "server.py": "pytrickle entrypoint adapting the processor to pytrickle's StreamProcessor",
    "requirements.txt": "the notebook environment's versions of what the image needs",
    ".dockerignore": "keeps everything else (such as register.env) out of the build",
    "README.md": "this file",
    "register.env.example": "registration settings to copy to register.env",
    "compose.yml": "the worker, plus an optional go-livepeer orchestrator and gateway",
}


def context_files(spec: ContainerSpec) -> list[str]:
    """Names of every file in the context, the wheel included, in a stable order."""
    names = ["Dockerfile", "processor.py"]
    if spec.target == "pytrickle":
        names.append("server.py")
    names += ["requirements.txt", spec.wheel, ".dockerignore", "README.md"]
    return [*names, "register.env.example", "compose.yml"]


def render_context(spec: ContainerSpec, processor_source: str) -> dict[str, str]:
    """Every text file of the context for ``spec``, keyed by file name (no wheel)."""
    files = {
        "Dockerfile": render_dockerfile(spec),
        "processor.py": processor_source,
        "requirements.txt": render_requirements(spec),
        ".dockerignore": render_template(
            "dockerignore.tmpl",
            {
                "wheel": spec.wheel,
                "extra_allowed": "!server.py" if spec.target == "pytrickle" else "",
            },
        ).rstrip("\n")
        + "\n",
        "README.md": render_readme(spec),
        "register.env.example": render_template(
            "register.env.example.tmpl",
            {
                "port": str(spec.port),
                "capability_name_line": _capability_name_line(spec),
                "description": f"{spec.class_name}, exported by byoc_lab",
            },
        ),
        "compose.yml": render_template(
            "compose.yml.tmpl",
            {
                "capability": spec.capability,
                "tag": spec.tag,
                "port": str(spec.port),
                "worker_command": _worker_command(spec),
            },
        ),
    }
    if spec.target == "pytrickle":
        files["server.py"] = render_server(spec)
    return files


def render_requirements(spec: ContainerSpec) -> str:
    """``requirements.txt``: a header saying where the pins came from, then the lines."""
    runtime = "pytrickle's" if spec.target == "pytrickle" else "byoc_lab's"
    header = [
        "# Pinned by byoc-lab export to the versions in the notebook's environment:",
        f"# {runtime} runtime and what processor.py imports, with their dependencies.",
        f"# byoc_lab itself is {spec.wheel}, installed after these with --no-deps.",
    ]
    return "\n".join([*header, *spec.requirements]) + "\n"


def render_server(spec: ContainerSpec) -> str:
    """``server.py`` for the pytrickle target."""
    return render_template(
        "server_pytrickle.py.tmpl",
        {
            "class_name": spec.class_name,
            "version": spec.version,
            "pytrickle_version": PYTRICKLE_VERSION,
            "port": str(spec.port),
            "capability": spec.capability,
            "initial_params": python_literal(dict(spec.initial_params)),
        },
    )


def python_literal(params: dict[str, Any]) -> str:
    """``params`` (str, bool, int, float values) as Python source, double-quoted strings."""
    items = []
    for name, value in sorted(params.items()):
        # repr() for numbers and booleans; a JSON string is also a Python string literal.
        text = repr(value) if isinstance(value, bool | int | float) else json.dumps(str(value))
        items.append(f"{json.dumps(name)}: {text}")
    return "{" + ", ".join(items) + "}"


def render_readme(spec: ContainerSpec) -> str:
    """``README.md``: what the context is, and how to build, run and register it."""
    pytrickle = spec.target == "pytrickle"
    runtime = (
        f"pytrickle {PYTRICKLE_VERSION}'s `StreamProcessor` (`server.py`)"
        if pytrickle
        else "byoc_lab's worker (`byoc-lab serve`)"
    )
    files = "\n".join(
        f"| `{name}` | {_DESCRIPTIONS.get(name, 'byoc_lab, the build the notebook ran')} |"
        for name in context_files(spec)
    )
    return render_template(
        "README.md.tmpl",
        {
            "capability": spec.capability,
            "class_name": spec.class_name,
            "origin": f"`{spec.origin}`",
            "runtime": runtime,
            "port": str(spec.port),
            "version": spec.version,
            "files_table": files,
            "tag": spec.tag,
            "run_flags": "" if pytrickle else " \\\n    --orch-insecure --trickle-insecure",
            "tls_note": _tls_note(pytrickle),
            "params_table": _params_table(spec.params_schema),
            "gpu_note": _gpu_note(spec),
            # pytrickle drops frames that arrive at exactly its max_framerate (24 unless
            # told): ask for more than the 30 fps the example sends.
            "stream_params": '{"width": 640, "height": 480, "max_framerate": 60}'
            if pytrickle
            else '{"width": 640, "height": 480}',
        },
    )


def _tls_note(pytrickle: bool) -> str:
    if pytrickle:
        return (
            "pytrickle never verifies TLS certificates: go-livepeer's self-signed ones need "
            "no flag."
        )
    return (
        "go-livepeer's orchestrator and its trickle channels use self-signed certificates;\n"
        "`--orch-insecure --trickle-insecure`, appended to the image's entrypoint, accept them.\n"
        "Leave them out for an orchestrator with a trusted certificate."
    )


def _params_table(schema: tuple[Any, ...]) -> str:
    if not schema:
        return "`processor.py` declares no parameters."
    rows = ["| name | type | default | range | help |", "|---|---|---|---|---|"]
    for row in schema:
        if "choices" in row:
            span = ", ".join(f"`{c}`" for c in row["choices"])
        elif "min" in row or "max" in row:
            span = f"{row.get('min', '')} … {row.get('max', '')}"
        else:
            span = ""
        default = json.dumps(row["default"])
        rows.append(
            f"| `{row['name']}` | {row['type']} | `{default}` | {span} | {row.get('help', '')} |"
        )
    return "\n".join(rows)


def _gpu_note(spec: ContainerSpec) -> str:
    if spec.base.kind != "cuda":
        return ""
    return (
        f"\n## GPU\n\nThe image builds on `{spec.base.image}`; run it with "
        f"`docker run --gpus all …` on a host whose NVIDIA driver supports that CUDA "
        f"version. torch must come from the matching wheel index "
        f"({spec.base.torch_index}), which `requirements.txt` names.\n"
    )


def _capability_name_line(spec: ContainerSpec) -> str:
    if spec.target == "pytrickle":
        return f"CAPABILITY_NAME={spec.capability}"
    return f"# The capability name, {spec.capability}, is fixed by the image's entrypoint."


def _worker_command(spec: ContainerSpec) -> str:
    if spec.target == "pytrickle":
        return ""
    return (
        "    # go-livepeer's orchestrator and trickle channels use self-signed certificates.\n"
        '    command: ["--orch-insecure", "--trickle-insecure"]\n'
    )
