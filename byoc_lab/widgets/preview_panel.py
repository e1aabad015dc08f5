"""``PreviewPanel``: pick a source, watch input and output, play / pause / step / snapshot.

Wiring only (DESIGN principle 1): the panel holds a
:class:`~byoc_lab.preview.PreviewEngine` (given directly or as a workbench's
``preview``) and calls its methods; a :class:`FrameView` shows its frames; a
:class:`BrowserCamera` appears when the browser camera is the source.

- Source picker: ``auto``, ``synthetic``, ``video file``, ``image file`` (the path box;
  Enter opens it), ``kernel webcam``, ``browser camera``. A source that cannot open
  shows its reason in the message line, the picker goes back to the source in use, and
  that source continues.
- Snapshot saves the latest frame's input and output as PNG files under
  ``snapshot_dir`` (default ``./snapshots``) and shows their paths: files are what a
  README, a bug report or a later cell wants (``panel.last_snapshot`` holds the paths;
  ``panel.engine.latest()`` gives the arrays themselves).
- The stats line (state, fps, ``process()`` p50/p95 ms, skipped, dropped, errors,
  timeouts, display fps) and the message line are refreshed twice a second by a task
  on byoc_lab's background loop, owned by the panel and stopped by :meth:`close`.

Threads: button and picker handlers run on the kernel's main thread. The refresh (and
the end of a Step, which runs off the main thread because it waits for one frame to be
processed) write the ``value`` of the stats and message lines from a worker thread;
those are the only trait writes made off the main thread.

CSS (stable): ``byoc-preview`` on the panel; ``byoc-preview-source``,
``byoc-preview-path``, ``byoc-preview-play``, ``byoc-preview-pause``,
``byoc-preview-step``, ``byoc-preview-snapshot``, ``byoc-preview-stats``,
``byoc-preview-message``, ``byoc-preview-camera`` (the box holding the BrowserCamera).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from byoc_lab.browser_camera import BrowserCameraSource
from byoc_lab.errors import ByocLabError
from byoc_lab.frames import encode_image
from byoc_lab.preview import DeliveryStats, PreviewEngine, PreviewStats
from byoc_lab.widgets._background import Outcome, PanelWork, describe_error
from byoc_lab.widgets._still import still_wait, with_still
from byoc_lab.widgets.camera import BrowserCamera
from byoc_lab.widgets.frame_view import FrameView

if TYPE_CHECKING:
    from byoc_lab.preview import PreviewFrame
    from byoc_lab.workbench import Workbench

__all__ = ["SOURCE_CHOICES", "PreviewPanel", "stats_line"]

SOURCE_CHOICES = (
    "auto",
    "synthetic",
    "video file",
    "image file",
    "kernel webcam",
    "browser camera",
)
_FILE_KINDS = ("video file", "image file")
_KIND_OF = {  # FrameSource.name -> picker choice
    "synthetic": "synthetic",
    "video": "video file",
    "images": "image file",
    "webcam": "kernel webcam",
    "browser camera": "browser camera",
}
_ACTION_ERRORS = (ByocLabError, TimeoutError)


def stats_line(stats: PreviewStats, delivery: DeliveryStats | None) -> str:
    """The stats line's text, e.g. ``playing · 30.0 fps · process p50 2.1 ms p95 3.0 ms · …``.

    ``dropped`` and ``display`` come from the view's delivery (0 until a view is ready).
    """
    parts = [stats.state, f"{stats.fps:.1f} fps"]
    if stats.process_p50_ms is not None and stats.process_p95_ms is not None:
        parts.append(f"process p50 {stats.process_p50_ms:.1f} ms p95 {stats.process_p95_ms:.1f} ms")
    dropped, shown = (delivery.dropped, delivery.display_fps) if delivery else (0, 0.0)
    parts += [f"skipped {stats.skipped}", f"dropped {dropped}"]
    parts += [f"errors {stats.errors}", f"timeouts {stats.timeouts}", f"display {shown:.1f} fps"]
    return " · ".join(parts)


def _styled(widget: Any, css: str) -> Any:
    widget.add_class(css)
    return widget


def _button(label: str, icon: str, css: str, on_click: Callable[[], object]) -> widgets.Button:
    button = widgets.Button(description=label, icon=icon, layout=widgets.Layout(width="auto"))
    button.add_class(css)
    button.on_click(lambda _button: on_click())
    return button


class PreviewPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Source picker, side-by-side frames, transport buttons, stats and messages.

    Args:
        target: a :class:`~byoc_lab.preview.PreviewEngine`, or a workbench (its
            ``preview`` is used). The panel does not own it: :meth:`close` leaves the
            engine running as it was.
        snapshot_dir: where :meth:`snapshot` writes PNG files.
        refresh_interval: seconds between stats refreshes (None: only on
            :meth:`refresh`).
        autoplay: call ``engine.play()`` now.

    Attributes:
        frame_view: the :class:`FrameView` showing the engine's frames.
        camera: the :class:`BrowserCamera` while the browser camera is the source.
        last_snapshot: ``(input_png, output_png or None)`` of the last snapshot.
    """

    def __init__(
        self,
        target: PreviewEngine | Workbench,
        *,
        snapshot_dir: str | Path = "snapshots",
        refresh_interval: float | None = 0.5,
        autoplay: bool = False,
    ) -> None:
        super().__init__()
        self.add_class("byoc-preview")
        self._engine = target if isinstance(target, PreviewEngine) else target.preview
        self._snapshot_dir = Path(snapshot_dir)
        self._note = ""
        self._quiet = False
        self.camera: BrowserCamera | None = None
        self.last_snapshot: tuple[Path, Path | None] | None = None
        self.source_picker = _styled(
            widgets.Dropdown(
                options=SOURCE_CHOICES, value=self._current_kind(), description="source"
            ),
            "byoc-preview-source",
        )
        self.path = _styled(
            widgets.Text(
                placeholder="video or image file (Enter opens it)", continuous_update=False
            ),
            "byoc-preview-path",
        )
        self.frame_view = FrameView(self._engine)
        self.stats = _styled(widgets.HTML(), "byoc-preview-stats")
        self.message = _styled(widgets.HTML(), "byoc-preview-message")
        self.camera_box = _styled(widgets.Box(), "byoc-preview-camera")
        self.buttons = widgets.HBox(
            [
                _button("Play", "play", "byoc-preview-play", self.play),
                _button("Pause", "pause", "byoc-preview-pause", self.pause),
                _button("Step", "step-forward", "byoc-preview-step", self.step),
                _button("Snapshot", "camera", "byoc-preview-snapshot", self.snapshot),
            ]
        )
        self._top = widgets.HBox([self.source_picker, self.path])
        self.children = (
            self._top,
            self.camera_box,
            self.frame_view,
            self.buttons,
            self.stats,
            self.message,
        )
        self.source_picker.observe(self._picked, names="value")
        self.path.observe(self._path_entered, names="value")
        self._work = PanelWork("PreviewPanel")
        if autoplay:
            self.play()
        self.refresh()
        if refresh_interval is not None:
            self._work.every(refresh_interval, self.refresh)

    @property
    def engine(self) -> PreviewEngine:
        """The preview engine this panel drives."""
        return self._engine

    # -- actions (main thread) ---------------------------------------------------------

    def play(self) -> None:
        """Start or resume the preview."""
        self._act(self._engine.play, "")

    def pause(self) -> None:
        """Pause the preview (the last frame stays on screen)."""
        self._act(self._engine.pause, "")

    def step(self) -> None:
        """Pause and process exactly one new frame, off the main thread."""
        self._say("stepping…")
        self._work.run(self._engine.step, self._stepped)

    def snapshot(self) -> tuple[Path, Path | None] | None:
        """Save the latest frame's input and output as PNGs; return their paths."""
        frame = self._engine.latest()
        if frame is None:
            self._say("no frame to save yet: press Play or Step first", error=True)
            return None
        try:
            paths = _save_pngs(frame, self._snapshot_dir)
        except (OSError, ByocLabError) as exc:
            self._say(f"snapshot not saved: {exc}", error=True)
            return None
        self.last_snapshot = paths
        saved = " and ".join(str(p) for p in paths if p is not None)
        self._say(f"saved frame {frame.index}: {saved}")
        return paths

    def use_source(self, kind: str, path: str = "") -> bool:
        """Switch to a source by picker choice (and file path); False if it cannot open.

        On failure the message line says why and the current source continues.
        """
        try:
            if kind == "browser camera":
                self._use_browser_camera()
            else:
                spec = _spec(kind, path)
                if spec is None:
                    self._say(f"type the path of the {kind} in the box, then press Enter")
                    return False
                self._engine.set_source(spec)
                self._show_camera(None)
        except _ACTION_ERRORS as exc:
            self._say(f"{kind} not opened: {describe_error(exc)}", error=True)
            self._set_picker(self._current_kind())
            return False
        self._set_picker(kind)
        self._say(f"source: {self._engine.source.describe()}")
        return True

    def refresh(self) -> None:
        """Update the stats and message lines from the engine (any thread)."""
        stats = self._engine.stats()
        self.stats.value = html.escape(stats_line(stats, self.frame_view.delivery_stats()))
        self.message.value = self._message_html(stats.message)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus a still of the preview for renderers without a kernel."""
        bundle = super()._repr_mimebundle_(**kwargs)
        return with_still(bundle, self.engine.latest, wait=still_wait(self.engine))

    def close(self) -> None:
        """Stop the refresh, close the frame view, the camera and the controls."""
        self._work.close()
        self._show_camera(None)
        self.frame_view.close()
        for button in self.buttons.children:
            button.close()
        for child in (self.source_picker, self.path, self._top, self.buttons):
            child.close()
        for child in (self.stats, self.message, self.camera_box):
            child.close()
        super().close()

    # -- wiring ---------------------------------------------------------------------

    def _picked(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self.use_source(change["new"], self.path.value)

    def _path_entered(self, change: dict[str, Any]) -> None:
        if not change["new"].strip():
            return
        kind = self.source_picker.value
        self.use_source(kind if kind in _FILE_KINDS else "video file", change["new"])

    def _use_browser_camera(self) -> None:
        size = self._engine.size
        source = BrowserCameraSource(size=size)
        camera = BrowserCamera(source)
        try:
            self._engine.set_source(source)
        except BaseException:
            camera.close()
            source.close()
            raise
        self._show_camera(camera)

    def _show_camera(self, camera: BrowserCamera | None) -> None:
        old, self.camera = self.camera, camera
        self.camera_box.children = (camera,) if camera is not None else ()
        if old is not None:
            old.close()

    def _act(self, action: Callable[[], object], done: str) -> None:
        try:
            action()
        except _ACTION_ERRORS as exc:
            self._say(describe_error(exc), error=True)
        else:
            self._say(done)

    def _stepped(self, outcome: Outcome[PreviewFrame | None]) -> None:
        """Step's end (worker thread)."""
        if outcome.error is not None:
            self._say(f"step failed: {describe_error(outcome.error)}", error=True)
        elif outcome.value is None:
            self._say("step: no new frame arrived", error=True)
        else:
            self._say(f"stepped to frame {outcome.value.index}")

    def _say(self, note: str, *, error: bool = False) -> None:
        escaped = html.escape(note)
        self._note = f'<span style="color:#b00020">{escaped}</span>' if error else escaped
        self.refresh()

    def _message_html(self, engine_message: str) -> str:
        parts = [p for p in (self._note, html.escape(engine_message)) if p]
        return " · ".join(parts)

    def _current_kind(self) -> str:
        return _KIND_OF.get(self._engine.source.name, "auto")

    def _set_picker(self, kind: str) -> None:
        self._quiet = True
        try:
            self.source_picker.value = kind
        finally:
            self._quiet = False


def _spec(kind: str, path: str) -> str | None:
    """The ``open_source`` text for a picker choice (None: a file choice without a path)."""
    if kind in _FILE_KINDS:
        return path.strip() or None
    return {"auto": "auto", "synthetic": "synthetic", "kernel webcam": "webcam"}.get(kind, kind)


def _save_pngs(frame: PreviewFrame, folder: Path) -> tuple[Path, Path | None]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"frame-{frame.index:06d}-seq{frame.seq}"
    input_path = folder / f"{stem}-input.png"
    input_path.write_bytes(encode_image(frame.input, "png"))
    output_path = None
    if frame.output is not None:
        output_path = folder / f"{stem}-output.png"
        output_path.write_bytes(encode_image(frame.output, "png"))
    return input_path, output_path
