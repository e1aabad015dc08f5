"""The byoc_lab wheel of an exported context: the code the notebook runs, packed offline.

Rather than ``pip wheel`` (a build backend, build isolation fetching setuptools, a
``build/`` directory in the checkout), the wheel is written here from the package the
kernel has imported, plus the installed distribution's metadata. It therefore holds
exactly the byoc_lab the notebook runs, uncommitted edits included, works the same
from an editable checkout or an installed wheel, needs no network, and is
byte-for-byte reproducible (sorted entries, fixed timestamps).

A test checks that it holds the same files as ``pip wheel`` builds.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import zipfile
from pathlib import Path

import byoc_lab
from byoc_lab.errors import ExportError

__all__ = ["build_wheel", "package_files", "wheel_name"]

_SUFFIXES = (".py", ".typed", ".tmpl", ".js", ".css")  # package data: pyproject.toml
_DATE = (1980, 1, 1, 0, 0, 0)
_WHEEL = (
    "Wheel-Version: 1.0\nGenerator: byoc_lab export\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)


def wheel_name() -> str:
    """``byoc_lab-<version>-py3-none-any.whl``."""
    return f"byoc_lab-{byoc_lab.__version__}-py3-none-any.whl"


def package_files() -> list[tuple[str, Path]]:
    """``(name in the wheel, file)`` for every file of the imported byoc_lab package.

    Python modules, ``py.typed`` and the export templates; no caches, no stray files.
    """
    root = Path(byoc_lab.__file__).resolve().parent
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root.parent)
        if (
            path.is_file()
            and path.name.endswith(_SUFFIXES)
            and "__pycache__" not in relative.parts
            and not any(part.startswith(".") for part in relative.parts)
        ):
            found.append((relative.as_posix(), path))
    return found


def build_wheel(directory: Path) -> Path:
    """Write byoc_lab's wheel into ``directory`` and return its path.

    Raises:
        ExportError: (``check="wheel"``) byoc_lab has no installed metadata (it was put
            on ``sys.path`` by hand), or the metadata's version is not the code's.
    """
    try:
        dist = metadata.distribution("byoc_lab")
    except metadata.PackageNotFoundError as exc:
        raise ExportError(
            "byoc_lab is importable but not installed, so there is no metadata for its wheel",
            check="wheel",
            fix="install it: pip install -e . in a checkout, or pip install byoc_lab",
        ) from exc
    if dist.version != byoc_lab.__version__:
        raise ExportError(
            "byoc_lab's installed metadata does not match its code",
            check="wheel",
            expected=f"version {byoc_lab.__version__}",
            got=f"metadata for {dist.version}",
            fix="reinstall byoc_lab (pip install -e . in a checkout)",
        )
    info = f"byoc_lab-{byoc_lab.__version__}.dist-info"
    entries: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in package_files()]
    # A checkout's byoc_lab.egg-info (found first when the checkout is the working
    # directory) has PKG-INFO, the same format under another name.
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        raise ExportError(
            "byoc_lab's installed metadata has no METADATA file",
            check="wheel",
            fix="reinstall byoc_lab (pip install -e . in a checkout)",
        )
    entries.append((f"{info}/METADATA", text.encode()))
    entries.append((f"{info}/WHEEL", _WHEEL.encode()))
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        entries.append((f"{info}/entry_points.txt", entry_points.encode()))
    entries.append((f"{info}/top_level.txt", b"byoc_lab\n"))
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    target = directory / wheel_name()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            item = zipfile.ZipInfo(name, date_time=_DATE)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, data)
    return target


def _digest(data: bytes) -> str:
    encoded = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + encoded.decode()
