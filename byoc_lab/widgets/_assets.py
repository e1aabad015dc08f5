"""The widgets' hand-written JavaScript and CSS, shipped as package data.

Each anywidget's ``_esm`` / ``_css`` is a :class:`~pathlib.Path` into ``static/``;
anywidget reads the file when the widget is created. The modules are self-contained
ES modules (no CDN, no npm build): they work in a browser without internet access.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC", "static"]

STATIC = Path(__file__).resolve().with_name("static")


def static(name: str) -> Path:
    """Path of ``static/<name>``; FileNotFoundError if the package data is missing."""
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(f"byoc_lab widget asset missing: {path} (reinstall byoc_lab)")
    return path
