"""``requirements.txt``: what the image needs, pinned to the notebook environment's versions.

From the modules ``processor.py`` imports (:func:`~byoc_lab.export.analysis.imports`)
to installed distributions (``importlib.metadata.packages_distributions``), plus the
runtime of the target (byoc_lab's ``Requires-Dist``, or pytrickle), then every
dependency of those, each pinned ``==`` to the version installed here: the image runs
the kernel's versions, not whatever PyPI has the day it is built.

Substitutions:

- ``cv2``: the notebook's ``opencv-python`` needs libGL, which slim images lack, so the
  byoc_lab target pins ``opencv-python-headless`` at the same version. The pytrickle
  target keeps ``opencv-python`` (pytrickle itself depends on it; its Dockerfile
  installs libGL).
- ``torch``: the public version (no ``+cpu`` label), from the PyTorch wheel index that
  matches the base image (CPU-only wheels, or the CUDA build), named in the file.
- pytrickle target: ``pytrickle==0.1.6``, ``av==14.2.0`` (pytrickle's pin) and torch.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from byoc_lab.errors import ExportError, PreflightError
from byoc_lab.export.analysis import ImportUse
from byoc_lab.export.spec import PYTRICKLE_VERSION, BaseImage, Target

__all__ = ["Requirements", "canonical", "resolve_requirements"]

logger = logging.getLogger(__name__)

PYTRICKLE_AV = "14.2.0"
PYTRICKLE_TORCH = "2.13.0"  # the CPU build this project's interop tests run
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_OPTIONS = ("--extra-index-url ", "--index-url ", "--find-links ", "--trusted-host ")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """PEP 503 normalised name: ``Opencv_Python`` → ``opencv-python``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirements:
    """The resolved requirements.

    Attributes:
        lines: ``requirements.txt`` lines (index options first, then sorted pins).
        names: canonical names of every distribution the lines install.
        modules: imported module → the distribution that provides it.
    """

    lines: tuple[str, ...]
    names: frozenset[str]
    modules: dict[str, str]


def resolve_requirements(
    uses: Sequence[ImportUse],
    *,
    target: Target,
    base: BaseImage,
    extra: Sequence[str] = (),
) -> Requirements:
    """Pin what ``processor.py`` imports and what ``target`` runs on.

    Args:
        uses: the imports of ``processor.py``.
        target: ``"byoc_lab"`` or ``"pytrickle"``.
        base: the base image (chooses the torch index).
        extra: more ``requirements.txt`` lines from the caller; a requirement wins over
            the pin of the same name, and a module no installed distribution provides
            is accepted when a requirement of its name is given.

    Raises:
        PreflightError: (``check="imports"``) an import nothing provides.
        ExportError: (``check="requirements"``) an ``extra`` line pip would not take.
    """
    options, given = _parse_extra(extra)
    providers = metadata.packages_distributions()
    pins: dict[str, tuple[str, str]] = {}  # canonical → (name, version)
    roots: list[str] = []
    modules: dict[str, str] = {}
    missing: list[str] = []
    for use in uses:
        module = use.module
        if module in _STDLIB or module == "byoc_lab" or module in modules:
            continue
        dists = sorted(providers.get(module, []))
        if dists:
            modules[module] = dists[0]
            roots.append(dists[0])
        elif canonical(module) in given:
            modules[module] = canonical(module)
        elif not use.optional:
            missing.append(_describe_missing(module, use.line))
    if missing:
        raise PreflightError(
            "processor.py imports what no requirement provides: " + "; ".join(missing),
            check="imports",
            fix="pip install it in the notebook's environment so export can pin its version, "
            "pass requirements=['name==version'], or move local code into processor.py",
        )
    if target == "byoc_lab":
        roots += _plain_requirements("byoc_lab")
    else:
        roots.append("numpy")  # byoc_lab's processor contract, in pytrickle's image
    for name, version in _closure(roots).items():
        pins[canonical(name)] = (name, version)
    _substitute(pins, modules, target)
    if target == "pytrickle":
        for name, version in (("pytrickle", PYTRICKLE_VERSION), ("av", PYTRICKLE_AV)):
            _pin(pins, name, version)
        if "torch" not in pins:
            pins["torch"] = ("torch", PYTRICKLE_TORCH)
    lines = [f"{name}=={version}" for _, (name, version) in sorted(pins.items())]
    lines = [line for line in lines if canonical(_name_of(line)) not in given]
    lines = sorted([*lines, *given.values()], key=lambda line: canonical(_name_of(line)))
    names = frozenset(pins) | frozenset(given)
    index = (
        [f"--extra-index-url {base.torch_index}"] if "torch" in names and base.torch_index else []
    )
    return Requirements(tuple(dict.fromkeys([*index, *options, *lines])), names, modules)


def _describe_missing(module: str, line: int) -> str:
    try:
        local = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        local = False
    if local:
        return (
            f"{module} (line {line}) is a local module, not an installed distribution, and the "
            "context holds only processor.py"
        )
    return f"{module} (line {line}) is not installed here"


def _substitute(pins: dict[str, tuple[str, str]], modules: dict[str, str], target: str) -> None:
    if "torch" in pins:
        pins["torch"] = ("torch", pins["torch"][1].split("+", 1)[0])
    installed = canonical(modules.get("cv2", ""))
    if installed not in pins:  # no cv2, or one only a caller's requirement provides
        return
    wanted = "opencv-python-headless" if target == "byoc_lab" else "opencv-python"
    version = pins.pop(installed)[1]
    for other in ("opencv-python", "opencv-python-headless"):
        pins.pop(other, None)
    pins[wanted] = (wanted, version)
    modules["cv2"] = wanted


def _pin(pins: dict[str, tuple[str, str]], name: str, version: str) -> None:
    present = pins.get(canonical(name))
    if present is not None and present[1] != version:
        logger.warning(
            "pytrickle target: %s pinned to %s, not this environment's %s",
            name,
            version,
            present[1],
        )
    pins[canonical(name)] = (name, version)


def _plain_requirements(dist: str) -> list[str]:
    """Names of ``dist``'s unconditional requirements (no extras)."""
    return [name for name, _ in _requirements_of(metadata.distribution(dist), frozenset())]


def _closure(roots: Iterable[str]) -> dict[str, str]:
    """Every installed distribution ``roots`` need, with its version (byoc_lab excluded)."""
    found: dict[str, str] = {}
    names: dict[str, str] = {}
    queue: list[tuple[str, frozenset[str]]] = [(root, frozenset()) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        key = (canonical(name), extras)
        if key in seen or canonical(name) == "byoc-lab":
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a conditional dependency this environment does not need
        names[canonical(name)] = dist.metadata["Name"] or name
        found[canonical(name)] = dist.version
        queue += [(dep, dep_extras) for dep, dep_extras in _requirements_of(dist, extras)]
    return {names[key]: version for key, version in found.items()}


def _requirements_of(dist: Any, extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    out = []
    for text in dist.requires or []:
        parsed = _parse_requirement(text, extras)
        if parsed is not None:
            out.append(parsed)
    return out


def _parse_requirement(text: str, extras: frozenset[str]) -> tuple[str, frozenset[str]] | None:
    """``(name, extras)`` of a ``Requires-Dist`` line that applies here, else None."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # no packaging: drop extras' lines, keep what is installed
        name_part, _, condition = text.partition(";")
        match = _NAME.match(name_part.strip())
        if match is None or ("extra" in condition and not extras):
            return None
        return match.group(1), frozenset()
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    marker = requirement.marker
    if marker is not None and not any(
        marker.evaluate({"extra": extra}) for extra in ({""} | set(extras))
    ):
        return None
    return requirement.name, frozenset(requirement.extras)


def _parse_extra(lines: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    options: list[str] = []
    given: dict[str, str] = {}
    for raw in lines:
        line = raw.strip() if isinstance(raw, str) else ""
        if not line or line.startswith("#"):
            continue
        if "\n" in line or "\r" in line:
            raise ExportError(
                "a requirement holds a line break", check="requirements", got=repr(raw)
            )
        if line.startswith(_OPTIONS):
            options.append(line)
            continue
        if line.startswith("-") or _NAME.match(line) is None:
            raise ExportError(
                "not a requirement export can pass on",
                check="requirements",
                expected="name, name==version, name>=version, or --extra-index-url URL",
                got=repr(raw),
            )
        given[canonical(_name_of(line))] = line
    return options, given


def _name_of(line: str) -> str:
    match = _NAME.match(line)
    return match.group(1) if match else line
