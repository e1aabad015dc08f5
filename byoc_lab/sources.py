"""Frame sources: synthetic patterns, image files, video files, the kernel's webcam.

Every source is an iterable of :class:`~byoc_lab.frames.Frame` (RGB ``uint8``
``HxWx3`` with an index and a timestamp) and a context manager that releases what it
opened. BGR↔RGB conversion happens at the OpenCV edge (:mod:`byoc_lab.capture`) and
nowhere else. :func:`auto` picks the best source available and says why it chose it.
"""

from __future__ import annotations

from pathlib import Path

from byoc_lab.capture import ImageSource, VideoFileSource, WebcamSource, camera_problem
from byoc_lab.errors import SourceError
from byoc_lab.source_base import FrameSource, Size
from byoc_lab.synthetic import Pattern, SyntheticSource

__all__ = [
    "FrameSource",
    "ImageSource",
    "Pattern",
    "Size",
    "SyntheticSource",
    "VideoFileSource",
    "WebcamSource",
    "auto",
    "camera_problem",
    "open_source",
]


def auto(
    *,
    file: str | Path | None = None,
    camera: int | None = 0,
    width: int = 640,
    height: int = 480,
    count: int | None = None,
) -> FrameSource:
    """Pick a source: the webcam, else ``file``, else synthetic bars; say why.

    The chosen source's ``reason`` attribute explains the choice, e.g. "webcam 0 is
    not usable (this machine has no camera device); video file missing; using
    synthetic frames".
    """
    notes: list[str] = []
    if camera is not None:
        try:
            cam = WebcamSource(camera, size=(width, height), count=count)
        except SourceError as exc:
            notes.append(exc.message)
        else:
            cam.reason = f"using webcam {camera}"
            return cam
    if file is not None:
        try:
            source: FrameSource = open_source(str(file), width=width, height=height, count=count)
        except SourceError as exc:
            notes.append(exc.message)
        else:
            source.reason = "; ".join([*notes, f"using {source.describe()}"])
            return source
    synthetic = SyntheticSource("bars", width=width, height=height, count=count)
    synthetic.reason = "; ".join([*notes, "using synthetic colour bars"])
    return synthetic


_VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".ts", ".m4v", ".mpg", ".mpeg", ".flv"}


def open_source(
    spec: str, *, width: int = 640, height: int = 480, count: int | None = None
) -> FrameSource:
    """Open a source from a short text, as the CLI and widgets take it.

    ``"synthetic"`` / ``"synthetic:gradient"``, ``"webcam"`` / ``"webcam:1"``,
    ``"auto"``, a video file, an image file or a glob. ``"browser"`` raises a
    :class:`SourceError` explaining that the browser camera comes from its widget.
    """
    kind, _, arg = spec.partition(":")
    if kind == "synthetic":
        pattern = arg or "bars"
        return SyntheticSource(pattern, width=width, height=height, count=count)  # type: ignore[arg-type]
    if kind == "webcam":
        if arg and not arg.isdigit():
            raise SourceError(
                f"{spec!r} does not name a camera index", expected="webcam or webcam:N", got=arg
            )
        return WebcamSource(int(arg or 0), size=(width, height), count=count)
    if kind == "auto":
        return auto(width=width, height=height, count=count)
    if kind in ("browser", "browser-camera"):
        raise SourceError(
            "the browser camera cannot be opened by name: the notebook's BrowserCamera "
            "widget feeds it",
            fix="pick 'browser camera' in the preview's source menu, or create a "
            "byoc_lab.browser_camera.BrowserCameraSource and connect it to a BrowserCamera widget",
        )
    if Path(spec).suffix.lower() in _VIDEO_SUFFIXES:
        return VideoFileSource(spec, size=(width, height), count=count)
    return ImageSource(spec, size=(width, height), count=count)
