"""Deterministic, offline test frames with the frame number burned in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np

from byoc_lab.errors import SourceError
from byoc_lab.framecode import burn_frame_number
from byoc_lab.frames import Frame, RGBImage
from byoc_lab.source_base import FrameSource, check_size

__all__ = ["Pattern", "SyntheticSource"]

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
        check_size(width, height)
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
