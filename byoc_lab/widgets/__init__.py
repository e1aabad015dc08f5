"""Notebook widgets over byoc_lab's core: the only package importing ipywidgets and IPython.

Each widget holds a core object (a :class:`~byoc_lab.workbench.Workbench`, a
:class:`~byoc_lab.preview.PreviewEngine`), calls its methods and shows what it
reports. The ``%%processor`` cell magic lives in :mod:`byoc_lab.widgets.magic`
(``%load_ext byoc_lab``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .camera import BrowserCamera
    from .editor import Editor
    from .export_panel import ExportPanel
    from .frame_view import FrameView
    from .jobs_panel import JobsPanel
    from .lab import Lab
    from .params_panel import ParamsPanel
    from .preview_panel import PreviewPanel
    from .serve_panel import ServePanel

# Loaded on first use, so `import byoc_lab.widgets` (and the magic) stays cheap.
_LAZY = {
    "BrowserCamera": "byoc_lab.widgets.camera",
    "Editor": "byoc_lab.widgets.editor",
    "ExportPanel": "byoc_lab.widgets.export_panel",
    "FrameView": "byoc_lab.widgets.frame_view",
    "JobsPanel": "byoc_lab.widgets.jobs_panel",
    "Lab": "byoc_lab.widgets.lab",
    "ParamsPanel": "byoc_lab.widgets.params_panel",
    "PreviewPanel": "byoc_lab.widgets.preview_panel",
    "ServePanel": "byoc_lab.widgets.serve_panel",
}

__all__ = [
    "BrowserCamera",
    "Editor",
    "ExportPanel",
    "FrameView",
    "JobsPanel",
    "Lab",
    "ParamsPanel",
    "PreviewPanel",
    "ServePanel",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byoc_lab.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
