"""A frame source fed by the user's own camera through the browser (getUserMedia).

A kernel running on another machine cannot see the user's webcam through OpenCV.
The notebook's ``BrowserCamera`` widget captures it in the browser and pushes JPEG
frames here (:meth:`BrowserCameraSource.push_jpeg`); a preview reads them like any
other :class:`~byoc_lab.source_base.FrameSource`. When the browser cannot open the
camera the widget calls :meth:`~BrowserCameraSource.fail` with the reason, and the
reader gets a :class:`~byoc_lab.errors.SourceError` saying it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from byoc_lab._cv2 import import_cv2
from byoc_lab.errors import FrameError, SourceError
from byoc_lab.frames import Frame, RGBImage, decode_image, validate_rgb
from byoc_lab.source_base import FrameSource, Size, check_size

__all__ = ["BrowserCameraSource"]


class BrowserCameraSource(FrameSource):
    """Frames pushed by the browser; the newest one wins.

    Args:
        size: ``(width, height)`` every frame is resized to.
        fps: the nominal rate (a live source: frames come at the browser's pace).
        first_frame_timeout: seconds :meth:`frames` waits for the first frame.
        frame_timeout: seconds it waits for each following frame.
        count: frames to yield at most (None: until closed).

    Thread-safe: the widget pushes from the kernel's thread while a preview reads
    from a worker thread. Attributes ``received`` (frames pushed) and ``dropped``
    (pushed, then replaced by a newer one before being read) count what happened.
    """

    name = "browser camera"
    live = True
    """Frames come at the browser's own pace; readers must not pace them."""

    def __init__(
        self,
        *,
        size: Size = (640, 480),
        fps: float = 30.0,
        first_frame_timeout: float = 10.0,
        frame_timeout: float = 5.0,
        count: int | None = None,
    ) -> None:
        super().__init__(count=count)
        check_size(*size)
        if fps <= 0 or first_frame_timeout <= 0 or frame_timeout <= 0:
            raise SourceError(
                "fps and timeouts must be positive",
                got=f"fps={fps}, first_frame_timeout={first_frame_timeout}, "
                f"frame_timeout={frame_timeout}",
            )
        self.size = size
        self.fps = fps
        self.first_frame_timeout = first_frame_timeout
        self.frame_timeout = frame_timeout
        self.received = 0
        self.dropped = 0
        self._cond = threading.Condition()
        self._image: RGBImage | None = None
        self._failure: str | None = None
        self._closed = False
        self._ever_read = False

    def describe(self) -> str:
        """E.g. ``browser camera 640x480``."""
        return f"browser camera {self.size[0]}x{self.size[1]}"

    def push_jpeg(self, data: bytes | bytearray | memoryview) -> None:
        """Decode a JPEG (or PNG) frame from the browser and make it the latest.

        Raises:
            FrameError: ``data`` is not a decodable image.
        """
        try:
            image = decode_image(data)
        except FrameError as exc:
            raise FrameError(
                "the browser camera sent a frame that is not an image",
                expected="JPEG bytes from the BrowserCamera widget (canvas.toBlob image/jpeg)",
                got=exc.got,
                fix="reload the widget; if it persists, the browser's encoder is broken",
            ) from exc
        self.push_rgb(image)

    def push_rgb(self, image: RGBImage) -> None:
        """Make ``image`` (RGB ``uint8`` ``HxWx3``, resized to ``size``) the latest frame.

        A successful push clears an earlier :meth:`fail` (the camera came back).
        Ignored once the source is closed.

        Raises:
            FrameError: ``image`` is not an RGB image.
        """
        image = _resize(validate_rgb(image, "browser camera frame"), self.size)
        with self._cond:
            if self._closed:
                return
            self.received += 1
            if self._image is not None:
                self.dropped += 1
            self._image = image
            self._failure = None
            self._cond.notify_all()

    def fail(self, reason: str) -> None:
        """Report that the browser cannot deliver frames; readers raise SourceError(reason)."""
        with self._cond:
            self._failure = reason
            self._cond.notify_all()

    def frames(self) -> Iterator[Frame]:
        """Yield each new frame as it arrives; ends when the source is closed.

        Raises:
            SourceError: :meth:`fail` was called (its reason), or no frame arrived in
                time ("the browser camera sent no frame for 10 s: …").
        """
        start = time.monotonic()
        index = 0
        while True:
            image = self._wait_for_frame()
            if image is None:
                return
            yield Frame(image, index, time.monotonic() - start)
            index += 1

    def _wait_for_frame(self) -> RGBImage | None:
        with self._cond:
            first = not self._ever_read
            timeout = self.first_frame_timeout if first else self.frame_timeout
            self._cond.wait_for(
                lambda: self._closed or self._failure is not None or self._image is not None,
                timeout,
            )
            if self._failure is not None:
                raise SourceError(self._failure)
            if self._closed:
                return None
            image, self._image = self._image, None
            if image is None:
                raise SourceError(_silence_message(timeout, first))
            self._ever_read = True
            return image

    def close(self) -> None:
        """Stop: wake every waiting reader (their iteration ends); later pushes are ignored."""
        with self._cond:
            self._closed = True
            self._image = None
            self._cond.notify_all()


def _silence_message(timeout: float, first: bool) -> str:
    if first:
        return (
            f"the browser camera sent no frame for {timeout:g} s: is the camera allowed? "
            "(the page must be on localhost or HTTPS, and the browser must grant access)"
        )
    return (
        f"the browser camera sent no frame for {timeout:g} s: "
        "is the notebook's tab still open and the camera on?"
    )


def _resize(image: RGBImage, size: Size) -> RGBImage:
    if (image.shape[1], image.shape[0]) == size:
        return image
    cv2 = import_cv2("resize browser camera frames")
    resized: RGBImage = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return resized
