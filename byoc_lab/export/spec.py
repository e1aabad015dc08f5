"""What an exported container is: :class:`ContainerSpec`, its base image and its checks.

Everything here is pure: no file, process or network is touched. The checks raise
:class:`~byoc_lab.errors.ExportError` with ``check`` naming what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from byoc_lab import __version__
from byoc_lab.errors import ExportError, RegistrationError
from byoc_lab.worker.registration import validate_capability_name

__all__ = [
    "CPU_IMAGE",
    "CUDA_IMAGE",
    "PYTRICKLE_VERSION",
    "BaseImage",
    "ContainerSpec",
    "Target",
    "check_capability",
    "check_port",
    "check_tag",
    "check_target",
    "default_capability",
    "resolve_base",
]

Target = Literal["byoc_lab", "pytrickle"]
BaseKind = Literal["cpu", "cuda", "custom"]

CPU_IMAGE = "python:3.11-slim"
CUDA_IMAGE = "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"  # pytrickle's own choice
PYTRICKLE_VERSION = "0.1.6"
TORCH_INDEX = "https://download.pytorch.org/whl/"
MIN_PYTHON = (3, 11)
# The python3 each Ubuntu release of the nvidia/cuda images installs.
_UBUNTU_PYTHON = {"24.04": "3.12", "22.04": "3.10", "20.04": "3.8"}

# Docker's reference grammar: lowercase path components, optional registry host
# (with a port), then a tag and/or a digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOCKER_NAME = re.compile(rf"^{_COMPONENT}$")
_REFERENCE = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_CUDA = re.compile(r"^(?:docker\.io/)?nvidia/cuda:(\d+)\.(\d+)(?:\.\d+)?-.*ubuntu(\d+\.\d+)$")


@dataclass(frozen=True)
class BaseImage:
    """The image an export builds ``FROM``.

    Attributes:
        kind: ``"cpu"`` (a python image), ``"cuda"`` (an nvidia/cuda image, which has
            no Python, so the Dockerfile installs one) or ``"custom"``.
        image: the image reference.
        python: the image's Python ``"3.11"``-style version, None when unknown.
        torch_index: the PyTorch wheel index whose builds match the image (CPU-only
            wheels for CPU images, ``cu128`` for CUDA 12.8), None for custom images.
    """

    kind: BaseKind
    image: str
    python: str | None
    torch_index: str | None

    @property
    def cuda_tag(self) -> str:
        """``"cu128"`` for a CUDA 12.8 image, ``""`` otherwise."""
        tag = (self.torch_index or "").rsplit("/", 1)[-1]
        return tag if tag.startswith("cu") else ""


def resolve_base(base: str) -> BaseImage:
    """``"cpu"``, ``"cuda"`` or an image reference with a tag or digest → :class:`BaseImage`.

    Raises:
        ExportError: an unknown name, a reference without a tag (``"gpu"`` would name a
            Docker Hub image nobody meant), or an nvidia/cuda image whose Ubuntu ships a
            Python older than byoc_lab needs.
    """
    if base == "cpu":
        return BaseImage("cpu", CPU_IMAGE, "3.11", TORCH_INDEX + "cpu")
    if base == "cuda":
        return _cuda_base(CUDA_IMAGE)
    if not isinstance(base, str) or not _REFERENCE.fullmatch(base) or not re.search(r"[:@]", base):
        raise ExportError(
            f"unknown base {base!r}",
            check="base",
            expected="'cpu', 'cuda', or an image reference with a tag, such as python:3.12-slim",
            fix=f"use base='cpu' ({CPU_IMAGE}) or base='cuda' ({CUDA_IMAGE})",
        )
    if _CUDA.match(base):
        return _cuda_base(base)
    python = re.match(r"^(?:docker\.io/)?(?:library/)?python:(\d+\.\d+)", base)
    return BaseImage("custom", base, python.group(1) if python else None, None)


def _cuda_base(image: str) -> BaseImage:
    match = _CUDA.match(image)
    if match is None:  # pragma: no cover - CUDA_IMAGE matches
        raise ExportError(f"cannot read the CUDA version of {image!r}", check="base")
    major, minor, ubuntu = match.groups()
    python = _UBUNTU_PYTHON.get(ubuntu)
    if python is None or tuple(int(p) for p in python.split(".")) < MIN_PYTHON:
        raise ExportError(
            f"{image} installs Python {python or 'of an unknown version'} from Ubuntu {ubuntu}",
            check="base",
            expected="Python 3.11 or newer (byoc_lab's minimum)",
            fix=f"use an ubuntu24.04 variant such as {CUDA_IMAGE}",
        )
    return BaseImage("cuda", image, python, f"{TORCH_INDEX}cu{major}{minor}")


def check_target(target: str) -> Target:
    """Return ``target`` if it is ``"byoc_lab"`` or ``"pytrickle"``, else raise ExportError."""
    if target not in get_args(Target):
        raise ExportError(
            f"unknown target {target!r}",
            check="target",
            expected="'byoc_lab' (byoc_lab's worker) or 'pytrickle' (pytrickle's StreamProcessor)",
        )
    return target  # type: ignore[return-value]  # narrowed by the check above


def check_port(port: int) -> int:
    """A port the container's non-root user may bind: 1024-65535."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise ExportError(
            "port is not usable in the container",
            check="port",
            expected="a whole number from 1024 to 65535 (the worker runs as a non-root user)",
            got=repr(port),
        )
    return port


def check_capability(name: str) -> str:
    """A capability name safe in URLs, registration, image labels and image tags.

    On top of :func:`~byoc_lab.worker.registration.validate_capability_name`, Docker
    wants image names lowercase, with separators only between letters and digits.
    """
    try:
        validate_capability_name(name)
    except RegistrationError as exc:
        raise ExportError(
            "capability name is not usable", check="capability", expected=exc.expected, got=exc.got
        ) from exc
    if not _DOCKER_NAME.fullmatch(name):
        raise ExportError(
            "capability name is not usable as a Docker image name",
            check="capability",
            expected="lowercase letters and digits, joined by '.', '_' or '-'",
            got=repr(name),
            fix=f"try {default_capability(name)!r}",
        )
    return name


def check_tag(tag: str) -> str:
    """An image reference ``docker build -t`` accepts (lowercase name, optional tag)."""
    if not isinstance(tag, str) or not _REFERENCE.fullmatch(tag) or "@" in tag:
        raise ExportError(
            "image tag is not usable",
            check="tag",
            expected="name[:tag] in lowercase, such as green-tint-cpu:latest",
            got=repr(tag),
        )
    return tag


def default_capability(class_name: str) -> str:
    """``GreenTintProcessor`` → ``green-tint-processor`` (lowercase, hyphenated)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", class_name)
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", words)
    name = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")
    return name[:64].rstrip("-") or "byoc-lab-worker"


@dataclass(frozen=True)
class ContainerSpec:
    """Everything the rendered files depend on; rendering is a pure function of it.

    Attributes:
        class_name: the processor class inside ``processor.py``.
        capability: the capability name the worker registers (also the image name).
        target: ``"byoc_lab"`` (byoc_lab's worker) or ``"pytrickle"`` (a generated
            ``server.py`` on pytrickle's ``StreamProcessor``).
        base: the base image.
        port: the port the worker listens on inside the container.
        requirements: the lines of ``requirements.txt`` (pins and index options).
        wheel: the file name of the byoc_lab wheel in the context.
        params_schema: the processor's parameter schema, as ``ParamSpec.to_json()`` rows.
        initial_params: parameter values to start with (the notebook's, when they
            differ from the declared defaults).
        origin: where the processor came from, for comments (a file name, "a notebook
            cell", "source text"); never an absolute path.
        tag: the image tag ``docker build`` gets.
        version: byoc_lab's version (labels, comments).
    """

    class_name: str
    capability: str
    target: Target = "byoc_lab"
    base: BaseImage = field(default_factory=lambda: resolve_base("cpu"))
    port: int = 8000
    requirements: tuple[str, ...] = ()
    wheel: str = f"byoc_lab-{__version__}-py3-none-any.whl"
    params_schema: tuple[Mapping[str, Any], ...] = ()
    initial_params: tuple[tuple[str, Any], ...] = ()
    origin: str = "processor.py"
    tag: str = ""
    version: str = __version__

    def __post_init__(self) -> None:
        check_target(self.target)
        check_capability(self.capability)
        check_port(self.port)
        if not self.class_name.isidentifier():
            raise ExportError(
                "class name is not a Python identifier", check="source", got=self.class_name
            )
        if not self.tag:
            object.__setattr__(self, "tag", f"{self.capability}:latest")
        check_tag(self.tag)

    @property
    def params_json(self) -> str:
        """The parameter schema as compact JSON (the ``byoc-lab.params`` label)."""
        return json.dumps([dict(row) for row in self.params_schema], separators=(",", ":"))

    @property
    def processor_ref(self) -> str:
        """``processor.py:ClassName``, what ``byoc-lab serve`` loads."""
        return f"processor.py:{self.class_name}"
