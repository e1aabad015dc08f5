"""The frame-source contract shared by every source (see :mod:`byoc_lab.sources`)."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from byoc_lab.errors import SourceError
from byoc_lab.frames import Frame

__all__ = ["FrameSource", "Size", "check_size"]

Size = tuple[int, int]


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
        if self.count is None:
            yield from self.frames()
            return
        if self.count == 0:
            return
        # Stop right after the last wanted frame: asking a live source (a camera) for
        # one more would block until it arrives.
        for n, frame in enumerate(self.frames(), start=1):
            yield frame
            if n >= self.count:
                return

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


def check_size(width: int, height: int) -> None:
    """Raise SourceError unless ``width``x``height`` is a positive, even frame size."""
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        raise SourceError("frame size must be two positive integers", got=f"{width}x{height}")
    if width % 2 or height % 2:
        raise SourceError(
            "frame width and height must be even (H.264 with 4:2:0 colour needs it)",
            got=f"{width}x{height}",
            fix=f"use {width + width % 2}x{height + height % 2}",
        )
