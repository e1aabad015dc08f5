"""Sources read through OpenCV: image files, video files and the kernel's webcam.

OpenCV is imported lazily (from the ``lab`` or ``container`` extra); frames leave
here as RGB, converted from OpenCV's BGR at this edge only.
"""

from __future__ import annotations

import glob as globlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from byoc_lab._cv2 import import_cv2
from byoc_lab.errors import SourceError
from byoc_lab.frames import Frame, RGBImage, from_bgr
from byoc_lab.source_base import FrameSource, Size, check_size

__all__ = ["ImageSource", "VideoFileSource", "WebcamSource", "camera_problem"]


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
            check_size(*size)
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
            check_size(*size)
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


def _resize(image: RGBImage, size: Size | None) -> RGBImage:
    if size is None or (image.shape[1], image.shape[0]) == size:
        return image
    cv2 = import_cv2("resize frames")
    resized: RGBImage = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return resized
