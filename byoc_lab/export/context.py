"""Writing a build context atomically: a complete directory appears, or nothing changes.

Files are written into a hidden staging directory next to the destination, then moved
into place with one rename. If anything fails, the staging directory is removed and the
destination is as it was. ``overwrite=True`` replaces only a directory an earlier
export wrote (its Dockerfile starts with :data:`~byoc_lab.export.dockerfile.MARKER`),
so a mistyped path never deletes someone's work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from byoc_lab.errors import ExportError
from byoc_lab.export.dockerfile import MARKER

__all__ = ["check_destination", "write_context"]

logger = logging.getLogger(__name__)


def check_destination(dest: Path, *, overwrite: bool) -> None:
    """Raise ExportError (``check="destination"``) unless ``dest`` may receive a context.

    Allowed: a path that does not exist, an empty directory, or, with ``overwrite``, a
    directory holding an earlier export.
    """
    if not dest.exists():
        if dest.parent.exists() and not dest.parent.is_dir():
            raise ExportError(
                f"{dest.parent} is a file, not a directory", check="destination", got=str(dest)
            )
        return
    if not dest.is_dir():
        raise ExportError(
            f"{dest} exists and is not a directory",
            check="destination",
            fix="choose a new directory for the build context",
        )
    if not any(dest.iterdir()):
        return
    if not overwrite:
        raise ExportError(
            f"{dest} exists and is not empty",
            check="destination",
            fix="choose a new directory, or pass overwrite=True (--overwrite) to replace "
            "an earlier export",
        )
    dockerfile = dest / "Dockerfile"
    try:
        written_by_export = dockerfile.read_text(encoding="utf-8").startswith(MARKER)
    except (OSError, UnicodeDecodeError):
        written_by_export = False
    if not written_by_export:
        raise ExportError(
            f"refusing to replace {dest}: it does not hold an earlier export (no Dockerfile "
            "written by byoc-lab export)",
            check="destination",
            fix="choose a new directory, or empty this one yourself",
        )


def write_context(
    dest: Path,
    files: Mapping[str, str],
    *,
    overwrite: bool,
    extra: Callable[[Path], object] | None = None,
) -> Path:
    """Write ``files`` (name → text) and what ``extra(staging_dir)`` adds, as ``dest``.

    Returns:
        ``dest``, resolved.

    Raises:
        ExportError: ``dest`` may not be written (see :func:`check_destination`), or
            writing failed (the destination is then unchanged).
    """
    dest = dest.expanduser().resolve()
    check_destination(dest, overwrite=overwrite)
    created = _missing_parents(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".export", dir=dest.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        if extra is not None:
            extra(staging)
        for path in staging.iterdir():
            path.chmod(0o644)  # readable by the image's non-root user
        staging.chmod(0o755)
        _swap(staging, dest)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in created:
            _remove_empty(parent)
        if isinstance(exc, OSError):
            raise ExportError(
                f"cannot write the build context to {dest}: {exc.strerror or exc}",
                check="destination",
            ) from exc
        raise
    logger.info("wrote the build context %s", dest)
    return dest


def _swap(staging: Path, dest: Path) -> None:
    if not dest.exists():
        os.replace(staging, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    old.rmdir()
    os.replace(dest, old)
    try:
        os.replace(staging, dest)
    except OSError:
        os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _missing_parents(dest: Path) -> list[Path]:
    missing = []
    parent = dest.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing


def _remove_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
