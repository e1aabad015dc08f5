"""``Lab``: the whole notebook experience in one widget.

::

    lab = byoc_lab.Lab(GreenTint())      # a bare `lab` at the end of a cell shows it
    lab.workbench.update_params({"boost": 120})
    lab.close()

Layout: the editor on the left; the preview (already playing, so a newcomer sees the
effect without a click) and the parameter controls on the right; below, tabs for
Serve, Jobs and Export. Everything is wiring over one
:class:`~byoc_lab.workbench.Workbench` (``lab.workbench``), which a cell can also
drive directly; the panels show what it does either way.

CSS class ``byoc-lab`` on the root (and ``byoc-lab-top``, ``byoc-lab-side``,
``byoc-lab-tabs``); each panel carries its own (see its module).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import ipywidgets as widgets

from byoc_lab.sources import FrameSource
from byoc_lab.widgets._still import still_wait, with_still
from byoc_lab.widgets.editor import Editor
from byoc_lab.widgets.export_panel import ExportPanel
from byoc_lab.widgets.jobs_panel import JobsPanel
from byoc_lab.widgets.params_panel import ParamsPanel
from byoc_lab.widgets.preview_panel import PreviewPanel
from byoc_lab.widgets.serve_panel import ServePanel
from byoc_lab.workbench import Workbench

__all__ = ["Lab"]

logger = logging.getLogger(__name__)
P = TypeVar("P")

TAB_TITLES = ("Serve", "Jobs", "Export")


class Lab(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Editor, preview, parameters, serve, jobs and export for one processor.

    Args:
        processor: an instance, a class, ``"file.py:Class"``, or None for GreenTint.
        source: the preview's source (``"auto"``: the kernel's webcam if it opens,
            else synthetic frames; ``"synthetic"``, a file path, a FrameSource).
        size: ``(width, height)`` of preview frames, jobs and the worker's raw frames.
        capability: the capability name the Serve tab registers and Export suggests.

    The preview starts playing at once. :meth:`close` releases everything: panel
    refreshes, the stream, the local network and the preview.

    Attributes:
        workbench: the core object every panel drives.
        editor, preview_panel, params_panel, serve_panel, jobs_panel, export_panel: the
            parts.
    """

    def __init__(
        self,
        processor: Any = None,
        source: FrameSource | str = "auto",
        *,
        size: tuple[int, int] = (640, 480),
        capability: str = "byoc_lab",
    ) -> None:
        super().__init__()
        self.add_class("byoc-lab")
        self._closed = False
        self._parts: list[Any] = []
        self.workbench = Workbench(processor, source=source, size=size, capability=capability)
        try:
            self.workbench.preview.play()
            self.editor = self._own(Editor(self.workbench))
            self.preview_panel = self._own(PreviewPanel(self.workbench))
            self.params_panel = self._own(ParamsPanel(self.workbench))
            self.serve_panel = self._own(ServePanel(self.workbench))
            self.jobs_panel = self._own(JobsPanel(self.workbench))
            self.export_panel = self._own(ExportPanel(self.workbench))
        except BaseException:
            self.close()
            raise
        self._unwatch = self.workbench.on_change(lambda _result: self.params_panel.refresh())
        self.editor.layout = widgets.Layout(width="50%", min_width="320px")
        side = widgets.VBox(
            [self.preview_panel, self.params_panel], layout=widgets.Layout(width="50%")
        )
        side.add_class("byoc-lab-side")
        top = widgets.HBox([self.editor, side])
        top.add_class("byoc-lab-top")
        self.tabs = widgets.Tab(
            children=[self.serve_panel, self.jobs_panel, self.export_panel], titles=TAB_TITLES
        )
        self.tabs.add_class("byoc-lab-tabs")
        self.children = (top, self.tabs)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus a still of the preview for renderers without a kernel."""
        preview = self.workbench.preview
        bundle = super()._repr_mimebundle_(**kwargs)
        return with_still(bundle, preview.latest, wait=still_wait(preview))

    def close(self) -> None:
        """Close the panels, then the workbench (stream, network, preview); idempotent."""
        if self._closed:
            return
        self._closed = True
        unwatch = getattr(self, "_unwatch", None)  # None: its constructor failed before
        if unwatch is not None:
            unwatch()
        try:
            for part in reversed(self._parts):
                part.close()
        finally:
            workbench = getattr(self, "workbench", None)  # None: its constructor failed
            if workbench is not None:
                workbench.close()
        for child in self.children:
            for grandchild in getattr(child, "children", ()):
                grandchild.close()
            child.close()
        super().close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _own(self, part: P) -> P:
        self._parts.append(part)
        return part
