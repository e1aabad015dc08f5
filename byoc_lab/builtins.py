"""Built-in processors: the quickstart's green tint, passthrough and grayscale.

They are numpy-only (no OpenCV) so that they run anywhere byoc_lab's core runs.
"""

from __future__ import annotations

import numpy as np

from .frames import RGBImage
from .params import Param
from .processor import FrameProcessor

__all__ = ["Grayscale", "GreenTint", "Passthrough"]


class GreenTint(FrameProcessor):
    """Adds ``boost`` to the green channel, saturating at 255 (the quickstart's effect)."""

    boost = Param(80, min=0, max=255, help="amount added to the green channel")

    def process(self, frame: RGBImage) -> RGBImage:
        """Return a copy of ``frame`` with its green channel boosted."""
        lut = np.minimum(np.arange(256, dtype=np.uint16) + self.boost, 255).astype(np.uint8)
        out = frame.copy()
        out[:, :, 1] = lut[frame[:, :, 1]]
        return out


class Passthrough(FrameProcessor):
    """Returns every frame unchanged (for measuring transport and codec cost)."""

    def process(self, frame: RGBImage) -> RGBImage:
        """Return ``frame`` itself."""
        return frame


class Grayscale(FrameProcessor):
    """Converts to gray with ITU-R BT.601 luma weights, kept as three equal channels."""

    def process(self, frame: RGBImage) -> RGBImage:
        """Return the luma of ``frame`` replicated into R, G and B."""
        weights = np.array([77, 150, 29], dtype=np.uint16)  # 0.299, 0.587, 0.114 in /256
        luma = ((frame.astype(np.uint16) @ weights + 128) >> 8).astype(np.uint8)
        return np.repeat(luma[:, :, None], 3, axis=2)
