"""``BrowserCamera``: the user's webcam, through the browser, feeding a BrowserCameraSource.

For kernels on another machine, where OpenCV sees no camera: the browser captures
(``getUserMedia``), draws each video frame on a canvas, encodes it as JPEG and sends it
to the kernel, one at a time (the next only after the kernel's ack, and no faster than
``fps``). The widget pushes each JPEG into its
:class:`~byoc_lab.browser_camera.BrowserCameraSource`, which a preview reads like any
other source.

Protocol (custom comm messages, see ``static/camera.js``):

- browser -> kernel ``{"type": "frame", "seq"}`` + ``[JPEG]``; the kernel answers
  ``{"type": "ack", "seq", "error"?}`` (``error``: the JPEG was refused, FrameError).
- browser -> kernel ``{"type": "started", "width", "height"}``, ``{"type": "stopped"}``,
  ``{"type": "error", "name", "message"}`` (``name``: the DOMException name, or
  ``"InsecureContext"`` / ``"NoMediaDevices"``). An error sets ``reason`` (see
  :func:`camera_problem`) and fails the source (``source.fail(reason)``), so a preview
  reading it pauses and says why.
- kernel -> browser ``{"type": "start"}`` / ``{"type": "stop"}`` (:meth:`start`,
  :meth:`stop`); stopping releases the camera's tracks.

CSS (stable): ``.byoc-camera`` root with ``data-state`` (idle / starting / running /
stopped / failed) and ``data-sent``; ``.byoc-camera-video``, ``.byoc-camera-toggle``,
``.byoc-camera-status``.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from byoc_lab.browser_camera import BrowserCameraSource
from byoc_lab.errors import FrameError
from byoc_lab.widgets._assets import static

__all__ = ["BrowserCamera", "camera_problem"]

_PROBLEMS = {
    "InsecureContext": (
        "the page is not a secure context; the browser camera needs https or "
        "http://localhost (open JupyterLab at http://localhost:<port> or through https)"
    ),
    "NoMediaDevices": (
        "this browser offers no camera API here (navigator.mediaDevices is missing); "
        "it needs https or http://localhost"
    ),
    "SecurityError": (
        "camera use is blocked by the page's security settings; it needs https or "
        "http://localhost and the camera permission"
    ),
    "NotAllowedError": (
        "permission to use the camera was denied; allow the camera for this page in the "
        "browser's site settings, then press Start camera"
    ),
    "NotFoundError": "the browser found no camera; connect one or pick another source",
    "NotReadableError": (
        "the camera is in use by another application (or the system blocked it); "
        "close the other application, then press Start camera"
    ),
    "AbortError": "the camera could not be started (the browser aborted); try again",
}


def camera_problem(name: str, message: str = "", *, size: tuple[int, int] = (640, 480)) -> str:
    """One line saying why the browser camera cannot open and what to do.

    ``name`` is the DOMException name getUserMedia failed with (or ``InsecureContext``
    / ``NoMediaDevices`` from the widget's own checks); ``message`` is the browser's text.
    """
    if name == "OverconstrainedError":
        text = f"the camera cannot deliver {size[0]}x{size[1]}; pick another size"
    else:
        text = _PROBLEMS.get(name, "the browser camera failed")
    detail = f"{name}: {message}" if message else name
    return f"browser camera: {text} ({detail})"


class BrowserCamera(anywidget.AnyWidget):
    """A webcam in the browser feeding ``source``; shows why when it cannot open.

    Args:
        source: the source to feed (default: a new ``BrowserCameraSource()``); the
            caller (usually a preview that reads it) owns and closes it.
        autostart: ask for the camera as soon as the widget is displayed.
        quality: JPEG quality (1-100) the browser encodes with.

    Traits: ``width``, ``height``, ``fps`` (the capture, from the source), ``quality``,
    ``autostart``; ``state`` (as the browser reported: idle / running / stopped /
    failed) and ``reason`` (why it failed, "" otherwise), both set by the kernel.
    """

    _esm = static("camera.js")
    _css = static("byoc.css")

    width = traitlets.Int(640).tag(sync=True)
    height = traitlets.Int(480).tag(sync=True)
    fps = traitlets.Float(30.0).tag(sync=True)
    quality = traitlets.Int(80, min=1, max=100).tag(sync=True)
    autostart = traitlets.Bool(True).tag(sync=True)
    state = traitlets.Unicode("idle").tag(sync=True)
    reason = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        source: BrowserCameraSource | None = None,
        *,
        autostart: bool = True,
        quality: int = 80,
    ) -> None:
        src = source if source is not None else BrowserCameraSource()
        width, height = src.size
        super().__init__(
            width=width, height=height, fps=src.fps, quality=quality, autostart=autostart
        )
        self._source = src
        self.on_msg(self._on_browser_message)

    @property
    def source(self) -> BrowserCameraSource:
        """The source this camera feeds."""
        return self._source

    def start(self) -> None:
        """Ask the displayed view(s) to start the camera (the browser may ask the user)."""
        self.send({"type": "start"})

    def stop(self) -> None:
        """Ask the displayed view(s) to stop the camera and release it."""
        self.send({"type": "stop"})

    def close(self) -> None:
        """Stop the camera and close the comm (views release the camera); idempotent."""
        if self.comm is not None:
            self.stop()
        super().close()

    def _on_browser_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        """Comm callback (kernel main thread)."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "frame":
            self._frame(content.get("seq"), buffers)
        elif kind == "started":
            self.state, self.reason = "running", ""
        elif kind == "stopped":
            self.state = "stopped"
        elif kind == "error":
            name, message = str(content.get("name", "Error")), str(content.get("message", ""))
            reason = camera_problem(name, message, size=(self.width, self.height))
            self.state, self.reason = "failed", reason
            self._source.fail(reason)

    def _frame(self, seq: Any, buffers: Any) -> None:
        ack: dict[str, Any] = {"type": "ack", "seq": seq}
        if not buffers:
            ack["error"] = "a camera frame arrived without its JPEG bytes"
        else:
            try:
                self._source.push_jpeg(bytes(buffers[0]))
            except FrameError as exc:
                ack["error"] = f"frame {seq} refused: {exc}"
        self.send(ack)
