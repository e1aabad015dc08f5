"""``docker build`` of an exported context, where a Docker engine answers.

:func:`docker_engine_problem` asks ``docker info`` whether an engine is reachable.
:func:`build_image` then runs ``docker build``, echoing its progress line by line, or,
with no engine, says so and what to run on a machine that has one. Only a build that
an engine ran and that failed is an error.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from byoc_lab.errors import ExportError

__all__ = ["BuildOutcome", "build_command", "build_image", "docker_engine_problem"]

Echo = Callable[[str], object]


@dataclass(frozen=True)
class BuildOutcome:
    """What :func:`build_image` did.

    Attributes:
        built: True if ``docker build`` ran and succeeded.
        tag: the image tag (built, or to build).
        message: one paragraph for the user: the tag built, or why nothing was built
            and the command to run elsewhere.
    """

    built: bool
    tag: str
    message: str


def build_command(context: Path, tag: str, docker: str = "docker") -> list[str]:
    """``docker build -t TAG CONTEXT``."""
    return [docker, "build", "-t", tag, str(context)]


def docker_engine_problem(docker: str = "docker", timeout: float = 20.0) -> str | None:
    """None if a Docker engine answers ``docker info``, else the reason in one line."""
    if shutil.which(docker) is None:
        return f"the {docker!r} command is not installed"
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`{docker} info` did not answer within {timeout:g} s"
    except OSError as exc:
        return f"`{docker} info` could not run ({exc.strerror or exc})"
    if done.returncode != 0 or not done.stdout.strip():
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"`{docker} info` exited with status {done.returncode}"
    return None


def build_image(
    context: Path, tag: str, *, echo: Echo = print, docker: str = "docker"
) -> BuildOutcome:
    """Build ``context`` as ``tag`` if an engine answers; otherwise explain.

    Progress lines go to ``echo`` as ``docker build`` prints them.

    Raises:
        ExportError: (``check="build"``) an engine ran the build and it failed.
    """
    command = build_command(context, tag, docker)
    shown = shlex.join(command)
    problem = docker_engine_problem(docker)
    if problem is not None:
        message = (
            f"No Docker engine here ({problem}), so no image was built. The context is "
            f"complete; on a machine with Docker, run:\n    {shown}"
        )
        echo(message)
        return BuildOutcome(False, tag, message)
    echo(f"$ {shown}")
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None  # PIPE was asked for
        tail: list[str] = []
        for line in process.stdout:
            echo(line.rstrip("\n"))
            tail = [*tail[-19:], line.rstrip("\n")]
        status = process.wait()
    if status != 0:
        raise ExportError(
            f"docker build exited with status {status}: " + " / ".join(tail[-3:]),
            check="build",
            fix=f"read the output above; the context is intact, so rerun `{shown}` after fixing it",
        )
    message = f"Built the image {tag}."
    echo(message)
    return BuildOutcome(True, tag, message)
