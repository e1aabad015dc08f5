"""Frame sources: synthetic patterns, image files, video files, the kernel's webcam.

Every source is an iterable of :class:`~byoc_lab.frames.Frame` (RGB ``uint8``
``HxWx3`` with an index and a timestamp) and a context manager that releases what it
opened. BGR↔RGB conversion happens here, at the OpenCV edge, and nowhere else.
:func:`auto` picks the best source available and says why it chose it.
"""

from __future__ import annotations

import glob as globlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

from ._cv2 import import_cv2
from .errors import SourceError
from .framecode import burn_frame_number
from .frames import Frame, RGBImage, from_bgr

__all__ = [
    "FrameSource",
    "ImageSource",
    "SyntheticSource",
    "VideoFileSource",
    "WebcamSource",
    "auto",
    "open_source",
]

Size = tuple[int, int]
Pattern = Literal["bars", "gradient", "checker", "solid"]

_BARS = np.array(
    [
        [192, 192, 192],
        [192, 192, 0],
        [0, 192, 192],
        [0, 192, 0],
        [192, 0, 192],
        [192, 0, 0],
        [0, 0, 192],
    ],
    dtype=np.uint8,
)


class FrameSource:
    """Base class of sources: iterate to get frames; ``close()`` releases devices.

    Attributes:
        name: short kind, e.g. ``"synthetic"``, ``"webcam"``.
        reason: why :func:`auto` chose this source ("" when chosen directly).
        count: how many frames to yield at most (None: until the source ends).
        fps: the source's frame rate (nominal for files and synthetic frames).
    """

    name = "source"
    fps = 30.0

    def __init__(self, *, count: int | None = None) -> None:
        if count is not None and count < 0:
            raise SourceError("frame count must not be negative", got=str(count))
        self.count = count
        self.reason = ""

    def describe(self) -> str:
        """One line saying what this source is."""
        return self.name

    def frames(self) -> Iterator[Frame]:
        """Yield frames; subclasses implement it, :meth:`__iter__` applies ``count``."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        for n, frame in enumerate(self.frames()):
            if self.count is not None and n >= self.count:
                return
            yield frame

    def close(self) -> None:
        """Release whatever the source holds open (idempotent)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyntheticSource(FrameSource):
    """Deterministic, offline test frames with the frame number burned in.

    Args:
        pattern: ``"bars"`` (colour bars with a moving line), ``"gradient"``
            (a moving diagonal gradient), ``"checker"`` (a scrolling checkerboard) or
            ``"solid"`` (one colour, e.g. the quickstart's black frame).
        width: frame width in pixels.
        height: frame height in pixels.
        fps: frames per second, used for timestamps only (frames come as fast as asked).
        count: frames to yield (None: endless).
        color: RGB colour for ``"solid"``.
        burn_in: stamp each frame's index (see :mod:`byoc_lab.framecode`).

    Frame ``i`` is always the same picture for the same arguments.
    """

    name = "synthetic"

    def __init__(
        self,
        pattern: Pattern = "bars",
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        count: int | None = None,
        color: tuple[int, int, int] = (0, 0, 0),
        burn_in: bool = True,
    ) -> None:
        super().__init__(count=count)
        if pattern not in ("bars", "gradient", "checker", "solid"):
            raise SourceError(
                f"unknown synthetic pattern {pattern!r}",
                expected="bars, gradient, checker or solid",
            )
        _check_size(width, height)
        if fps <= 0:
            raise SourceError("fps must be positive", got=str(fps))
        self.pattern = pattern
        self.width, self.height, self.fps = width, height, fps
        self.color = color
        self.burn_in = burn_in
        self._bars = np.repeat(_BARS, -(-width // len(_BARS)), axis=0)[:width]

    def describe(self) -> str:
        """E.g. ``synthetic bars 640x480 @ 30 fps``."""
        return f"synthetic {self.pattern} {self.width}x{self.height} @ {self.fps:g} fps"

    def render(self, index: int) -> RGBImage:
        """Return frame ``index`` as an RGB image (without iterating)."""
        h, w = self.height, self.width
        if self.pattern == "solid":
            image = np.empty((h, w, 3), dtype=np.uint8)
            image[:] = self.color
        elif self.pattern == "bars":
            image = np.broadcast_to(self._bars, (h, w, 3)).copy()
            x = (index * 4) % w
            image[:, x : x + 4] = 255
        elif self.pattern == "gradient":
            ys, xs = np.mgrid[0:h, 0:w]
            t = index * 3
            image = np.stack(
                [(xs + t) % 256, (ys + 2 * t) % 256, (xs + ys - t) % 256], axis=2
            ).astype(np.uint8)
        else:
            ys, xs = np.mgrid[0:h, 0:w]
            cells = ((xs + index * 2) // 32 + ys // 32) % 2
            image = np.where(cells[:, :, None] == 1, 220, 35).astype(np.uint8).repeat(3, axis=2)
        if self.burn_in:
            burn_frame_number(image, index)
        return image

    def frames(self) -> Iterator[Frame]:
        """Yield frames 0, 1, 2, … forever (``count`` bounds it)."""
        index = 0
        while True:
            yield Frame(self.render(index), index, index / self.fps)
            index += 1


class ImageSource(FrameSource):
    """Frames from image files: a path, a glob, or a list of paths (sorted).

    Args:
        paths: a file, a glob pattern such as ``"samples/*.png"``, or a sequence.
        size: ``(width, height)`` to resize to (None: keep each image's size).
        loop: start over after the last image.
        fps: used for timestamps.
        count: frames to yield at most.
    """

    name = "images"

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        size: Size | None = None,
        loop: bool = False,
        fps: float = 30.0,
        count: int | None = None,
    ) -> None:
        super().__init__(count=count)
        if isinstance(paths, str | Path):
            text = str(paths)
            matched = sorted(globlib.glob(text)) if globlib.has_magic(text) else [text]
        else:
            matched = [str(p) for p in paths]
        files = [p for p in matched if Path(p).is_file()]
        if not files:
            raise SourceError(
                "no image file found",
                expected="an existing image path or a glob that matches files",
                got=repr(str(paths)) if isinstance(paths, str | Path) else f"{len(matched)} paths",
                fix=f"check the path (relative to {Path.cwd()})",
            )
        if size is not None:
            _check_size(*size)
        self.paths, self.size, self.loop, self.fps = files, size, loop, fps

    def describe(self) -> str:
        """E.g. ``images (3 files)``."""
        return f"images ({len(self.paths)} file{'s' * (len(self.paths) != 1)})"

    def frames(self) -> Iterator[Frame]:
        """Read and yield each image as a frame."""
        cv2 = import_cv2("read image files")
        index = 0
        while True:
            for path in self.paths:
                bgr = cv2.imread(path, cv2.IMREAD_COLOR)
                if bgr is None:
                    raise SourceError(
                        f"cannot read image {path!r}",
                        expected="a PNG, JPEG or other format OpenCV reads",
                        fix="check that the file is a complete image",
                    )
                yield Frame(_resize(from_bgr(bgr), self.size), index, index / self.fps)
                index += 1
            if not self.loop:
                return


class _CaptureSource(FrameSource):
    """Shared code of sources read through ``cv2.VideoCapture``."""

    def __init__(self, *, size: Size | None, count: int | None) -> None:
        super().__init__(count=count)
        if size is not None:
            _check_size(*size)
        self.size = size
        self._cap: Any = None
        self.fps = 30.0

    def close(self) -> None:
        """Release the capture device or file."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileSource(_CaptureSource):
    """Frames decoded from a video file by OpenCV.

    Args:
        path: the video file.
        size: ``(width, height)`` to resize to (None: native size).
        loop: start over at the end.
        count: frames to yield at most.

    Raises:
        SourceError: the file does not exist or OpenCV cannot decode it.
    """

    name = "video"

    def __init__(
        self,
        path: str | Path,
        *,
        size: Size | None = None,
        loop: bool = False,
        count: int | None = None,
    ) -> None:
        super().__init__(size=size, count=count)
        self.path = Path(path)
        self.loop = loop
        if not self.path.is_file():
            raise SourceError(
                f"video file {str(self.path)!r} not found",
                got=f"nothing at {self.path.resolve()}",
                fix="check the path",
            )
        cv2 = import_cv2("read video files")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened() or not self._cap.grab():
            self.close()
            raise SourceError(
                f"cannot decode video file {str(self.path)!r}",
                expected="a video OpenCV can read (MP4/H.264, MPEG-TS, WebM, AVI…)",
                got="a file OpenCV could not open or read a frame from",
                fix="check it plays in ffplay, or convert: ffmpeg -i IN -c:v libx264 OUT.mp4",
            )
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0

    def describe(self) -> str:
        """E.g. ``video clip.mp4``."""
        return f"video {self.path.name}"

    def frames(self) -> Iterator[Frame]:
        """Yield decoded frames; restarts at the end when ``loop`` is set."""
        cv2 = import_cv2("read video files")
        index = 0
        while self._cap is not None:
            ok, bgr = self._cap.read()
            if not ok:
                if self.loop and index > 0:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                return
            yield Frame(_resize(from_bgr(bgr), self.size), index, index / self.fps)
            index += 1


class WebcamSource(_CaptureSource):
    """Frames from a camera attached to the machine running the kernel.

    Args:
        index: OpenCV camera index (``/dev/video{index}`` on Linux).
        size: ``(width, height)`` to request and resize to.
        count: frames to yield at most (None: until closed).

    Raises:
        SourceError: no camera at ``index``, or it is in use and gives no frame.
    """

    name = "webcam"

    def __init__(
        self, index: int = 0, *, size: Size | None = None, count: int | None = None
    ) -> None:
        super().__init__(size=size, count=count)
        self.index = index
        problem = camera_problem(index)
        if problem:
            raise SourceError(
                f"no usable camera at index {index}: {problem}",
                fix="a kernel on another machine cannot see your camera: use the browser "
                "camera in the preview, a video file, or SyntheticSource()",
            )
        cv2 = import_cv2("open a webcam")
        self._cap = cv2.VideoCapture(index)
        if size is not None:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if not self._cap.isOpened() or not self._cap.grab():
            self.close()
            raise SourceError(
                f"camera {index} exists but gives no frames",
                fix="close other programs using it (video calls, other notebooks) and retry",
            )
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0

    def describe(self) -> str:
        """E.g. ``webcam 0``."""
        return f"webcam {self.index}"

    def frames(self) -> Iterator[Frame]:
        """Yield live frames until closed or the camera stops answering."""
        index = 0
        while self._cap is not None:
            ok, bgr = self._cap.read()
            if not ok:
                raise SourceError(
                    f"camera {self.index} stopped giving frames", got=f"{index} frames"
                )
            yield Frame(_resize(from_bgr(bgr), self.size), index, index / self.fps)
            index += 1


def camera_problem(index: int) -> str:
    """Why camera ``index`` cannot be used, or "" if it looks present (Linux checks the device)."""
    linux_devices = Path("/dev").glob("video*")
    if Path("/dev").is_dir() and Path("/proc").is_dir():
        devices = sorted(str(p) for p in linux_devices)
        if not devices:
            return "this machine has no camera device (/dev/video* is empty)"
        if f"/dev/video{index}" not in devices:
            return f"/dev/video{index} does not exist (found {', '.join(devices)})"
    return ""


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
    ``"auto"``, a video file, an image file or a glob.
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
    if Path(spec).suffix.lower() in _VIDEO_SUFFIXES:
        return VideoFileSource(spec, size=(width, height), count=count)
    return ImageSource(spec, size=(width, height), count=count)


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        raise SourceError("frame size must be two positive integers", got=f"{width}x{height}")
    if width % 2 or height % 2:
        raise SourceError(
            "frame width and height must be even (H.264 with 4:2:0 colour needs it)",
            got=f"{width}x{height}",
            fix=f"use {width + width % 2}x{height + height % 2}",
        )


def _resize(image: RGBImage, size: Size | None) -> RGBImage:
    if size is None or (image.shape[1], image.shape[0]) == size:
        return image
    cv2 = import_cv2("resize frames")
    resized: RGBImage = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return resized
