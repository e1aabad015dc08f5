"""``export()``: a processor to a Docker build context that runs it as a BYOC worker."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byoc_lab.export.build import Echo, build_command, build_image
from byoc_lab.export.context import check_destination, write_context
from byoc_lab.export.files import context_files, render_context
from byoc_lab.export.preflight import check_loaded_modules, check_source, run_probe
from byoc_lab.export.requirements import resolve_requirements
from byoc_lab.export.source import resolve_source
from byoc_lab.export.spec import (
    BaseImage,
    ContainerSpec,
    check_capability,
    check_port,
    check_tag,
    check_target,
    default_capability,
    resolve_base,
)
from byoc_lab.export.wheel import build_wheel, wheel_name

__all__ = ["ExportResult", "export"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    """A written build context.

    Attributes:
        path: the context directory.
        spec: what was rendered.
        files: the file names in ``path``.
        image: the image tag if ``build=True`` built one, else None.
        build_message: what the build step said ("" without ``build=True``).
        warnings: things that may bite later (e.g. a Python version mismatch).
    """

    path: Path
    spec: ContainerSpec
    files: tuple[str, ...]
    image: str | None = None
    build_message: str = ""
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """What was written and the commands that come next."""
        spec = self.spec
        lines = [
            f"Exported {spec.class_name} as the BYOC capability {spec.capability!r} "
            f"({spec.target} runtime, {spec.base.image}) to {self.path}:",
            *(f"  {name}" for name in self.files),
        ]
        lines += [f"warning: {text}" for text in self.warnings]
        if self.image is None:
            lines.append(f"Build: {shlex.join(build_command(self.path, spec.tag))}")
        lines.append(f"Run:   docker run --rm -p {spec.port}:{spec.port} {spec.tag}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def export(
    processor_or_path: Any,
    dest: str | os.PathLike[str],
    *,
    target: str = "byoc_lab",
    base: str = "cpu",
    capability: str | None = None,
    requirements: Sequence[str] | str | None = None,
    port: int = 8000,
    overwrite: bool = False,
    build: bool = False,
    source: str | None = None,
    tag: str | None = None,
    preflight_timeout: float = 120.0,
    echo: Echo = print,
) -> ExportResult:
    """Write a Docker build context that runs the processor as a Livepeer BYOC worker.

    Every check runs before anything is written; then the context appears complete
    at ``dest`` or not at all.

    Args:
        processor_or_path: ``"file.py:Class"``, ``"package.module:Class"``, a file
            path, a processor class, or an instance (whose parameter values that
            differ from the defaults become the container's initial values).
        dest: the directory to create (or an empty one).
        target: ``"byoc_lab"`` (``byoc-lab serve``) or ``"pytrickle"`` (a generated
            ``server.py`` on pytrickle 0.1.6's ``StreamProcessor``).
        base: ``"cpu"`` (python:3.11-slim), ``"cuda"``
            (nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04, Python added), or an image
            reference with a tag (Debian/Ubuntu based, with Python ≥ 3.11 and pip).
        capability: the capability name to register (default: from the class name,
            ``GreenTintProcessor`` → ``green-tint-processor``); also the image name.
        requirements: more ``requirements.txt`` lines; each wins over the automatic
            pin of the same distribution.
        port: the port the worker listens on in the container (1024-65535).
        overwrite: replace ``dest`` if it holds an earlier export.
        build: run ``docker build`` afterwards where a Docker engine answers;
            elsewhere say so and print the command (the export still succeeds).
        source: the module's source text, when the caller has it (the notebook's
            ``%%processor`` magic and editor pass what they captured); the first
            argument then names the class (a class, an instance or a class name).
        tag: the image tag (default ``<capability>:latest``).
        preflight_timeout: seconds the clean-interpreter check may take.
        echo: where build progress goes (print by default).

    Returns:
        The :class:`ExportResult`; ``str()`` of it lists files and next commands.

    Raises:
        PreflightError: the processor would not run in the container (``check`` says
            which check failed: source, globals, imports, load, contract, schema,
            initialize, process, shutdown, timeout); nothing was written.
        ExportError: a bad target, base, port, capability, tag, requirement or
            destination (nothing was written), or a Docker build that ran and failed
            (the context stays).
    """
    chosen_target = check_target(target)
    chosen_base = resolve_base(base)
    check_port(port)
    dest_path = Path(dest).expanduser()
    check_destination(dest_path.resolve(), overwrite=overwrite)
    if tag is not None:
        check_tag(tag)
    found = resolve_source(processor_or_path, source=source)
    name = check_capability(
        capability if capability is not None else default_capability(found.class_name)
    )
    uses = check_source(found)
    extra = [requirements] if isinstance(requirements, str) else list(requirements or ())
    resolved = resolve_requirements(uses, target=chosen_target, base=chosen_base, extra=extra)
    report = run_probe(found.text, found.class_name, dict(found.params), timeout=preflight_timeout)
    check_loaded_modules(report, resolved)
    spec = ContainerSpec(
        class_name=found.class_name,
        capability=name,
        target=chosen_target,
        base=chosen_base,
        port=port,
        requirements=resolved.lines,
        wheel=wheel_name(),
        params_schema=report.schema,
        initial_params=found.params,
        origin=found.origin,
        tag=tag or "",
    )
    path = write_context(
        dest_path, render_context(spec, found.text), overwrite=overwrite, extra=build_wheel
    )
    warnings = _python_warnings(chosen_base)
    for text in warnings:
        logger.warning("%s", text)
    result = ExportResult(path, spec, tuple(context_files(spec)), warnings=warnings)
    if not build:
        return result
    outcome = build_image(path, spec.tag, echo=echo)
    return ExportResult(
        path,
        spec,
        result.files,
        image=spec.tag if outcome.built else None,
        build_message=outcome.message,
        warnings=warnings,
    )


def _python_warnings(base: BaseImage) -> tuple[str, ...]:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if base.python is None:
        return (
            f"the Python version of {base.image} is unknown; requirements.txt pins what "
            f"Python {here} installed, which may not exist for another version",
        )
    if base.python != here:
        return (
            f"{base.image} runs Python {base.python} but the pins come from Python {here}: "
            "a pinned version without a wheel for that Python fails the build",
        )
    return ()
