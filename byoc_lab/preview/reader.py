"""Reading a frame source for the preview: in worker threads, one frame at a time.

OpenCV blocks (camera reads, video decoding), so the preview never reads on the event
loop: :meth:`SourceReader.read` is called through :func:`asyncio.to_thread`. A finite
source (a video file, images, a counted synthetic source) starts over from its
beginning when it ends, and frames of another size are resized to the preview's.
:class:`LatestSlot` hands frames on to processing (the latest wins) and :func:`pace`
keeps sources that are not live at their nominal frame rate.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

from byoc_lab._cv2 import import_cv2
from byoc_lab.browser_camera import BrowserCameraSource
from byoc_lab.capture import VideoFileSource, WebcamSource
from byoc_lab.errors import SourceError
from byoc_lab.frames import Frame, RGBImage
from byoc_lab.source_base import FrameSource, Size
from byoc_lab.sources import open_source

__all__ = ["LatestSlot", "SourceReader", "is_live", "open_preview_source", "pace"]

logger = logging.getLogger(__name__)

CLOSE_WAIT = 2.0
"""Seconds :meth:`SourceReader.close` waits for a read in progress before closing."""


def is_live(source: FrameSource) -> bool:
    """True for sources that deliver at their own pace (cameras): never pace them."""
    return isinstance(source, WebcamSource | BrowserCameraSource) or bool(
        getattr(source, "live", False)
    )


def open_preview_source(spec: FrameSource | str, size: Size) -> FrameSource:
    """Return ``spec`` itself, or open the source a text names (blocking: call in a thread).

    Raises:
        SourceError: the text names nothing that can be opened.
    """
    if isinstance(spec, FrameSource):
        return spec
    if not isinstance(spec, str):
        raise SourceError(
            "a preview source must be a FrameSource or a text",
            expected='e.g. "auto", "synthetic", "webcam:0", "clip.mp4"',
            got=type(spec).__name__,
        )
    return open_source(spec, width=size[0], height=size[1])


class SourceReader:
    """Owns one source while the preview reads it.

    Args:
        source: the source; a :class:`VideoFileSource` is switched to looping.
        size: ``(width, height)`` frames are resized to.

    :meth:`read` and :meth:`close` block and belong in worker threads; reads are
    serialised by a lock, so at most one runs at a time.
    """

    def __init__(self, source: FrameSource, size: Size) -> None:
        self.source = source
        self.size = size
        self.live = is_live(source)
        if isinstance(source, VideoFileSource):
            source.loop = True  # a finite video restarts where it ends
        self._lock = threading.Lock()
        self._iterator: Iterator[Frame] | None = None
        self._restart = False
        self._closed = False
        self._interrupted = False

    @property
    def fps(self) -> float:
        """The source's frame rate (used to pace sources that are not live)."""
        fps = float(getattr(self.source, "fps", 30.0) or 30.0)
        return fps if fps > 0 else 30.0

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def retiring(self) -> bool:
        """True once :meth:`interrupt` or :meth:`close` was called: failures are expected."""
        return self._interrupted or self._closed

    def restart(self) -> None:
        """Start the next read from a fresh iteration (after an error). Never blocks."""
        self._restart = True

    def read(self) -> Frame | None:
        """Read the next frame, resized; None when the source gives none (or is closed).

        Raises:
            SourceError: the source failed (camera gone, browser camera failed, …).
            Exception: whatever else the source raised (e.g. ``cv2.error``).
        """
        with self._lock:
            if self._closed:
                return None
            try:
                frame = self._next()
            except BaseException:
                self._iterator = None
                raise
            finally:
                if self.closed:  # close() gave up waiting for this read: close now
                    self.source.close()
            if frame is None:
                return None
            return Frame(_resize(frame.image, self.size), frame.index, frame.timestamp)

    def _next(self) -> Frame | None:
        if self._restart or self._iterator is None:
            self._restart = False
            self._iterator = iter(self.source)
        frame = next(self._iterator, None)
        if frame is None and not self._closed:  # a finite source ended: from the start
            self._iterator = iter(self.source)
            frame = next(self._iterator, None)
        return frame

    def interrupt(self) -> None:
        """Retire this reader: wake a read blocked in a source closable from any thread."""
        self._interrupted = True
        if isinstance(self.source, BrowserCameraSource):
            self.source.close()

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """Close the source once no read is in progress (blocking; idempotent).

        A read still in progress after ``wait`` seconds closes the source itself when
        it returns, so a device is never released under a running read.
        """
        self._closed = True
        self.interrupt()
        if not self._lock.acquire(timeout=wait):
            logger.warning(
                "%s is still reading after %.1f s; it is closed when the read returns",
                self.source.describe(),
                wait,
            )
            return
        try:
            self.source.close()
        finally:
            self._lock.release()


class LatestSlot:
    """A one-frame holder between the reader and the processing task (loop only).

    A new frame replaces one nobody took yet: the latest frame wins.
    """

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._ready = asyncio.Event()

    def put(self, frame: Frame) -> bool:
        """Hold ``frame``; True if it replaced a frame nobody took."""
        replaced = self._frame is not None
        self._frame = frame
        self._ready.set()
        return replaced

    def take(self) -> Frame | None:
        """Remove and return the held frame, if any."""
        frame, self._frame = self._frame, None
        self._ready.clear()
        return frame

    async def wait(self) -> None:
        """Return once a frame is held."""
        await self._ready.wait()


async def pace(due: float | None, fps: float) -> float:
    """Sleep until the next frame of a ``fps`` source is due; returns the new due time."""
    period = 1.0 / fps
    now = asyncio.get_running_loop().time()
    due = now + period if due is None or now - due > period else due + period
    if due > now:
        await asyncio.sleep(due - now)
    return due


def _resize(image: RGBImage, size: Size) -> RGBImage:
    if (image.shape[1], image.shape[0]) == size:
        return image
    cv2 = import_cv2("resize preview frames")
    resized: RGBImage = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return resized
