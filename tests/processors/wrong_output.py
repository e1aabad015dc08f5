"""Processors that break the output contract in different ways."""

from __future__ import annotations

import numpy as np

from byoc_lab import FrameProcessor
from byoc_lab.frames import RGBImage


class ReturnsFloat(FrameProcessor):
    def process(self, frame: RGBImage) -> np.ndarray:
        return frame.astype(np.float32) / 255.0


class ReturnsGray2D(FrameProcessor):
    def process(self, frame: RGBImage) -> np.ndarray:
        return frame[:, :, 0]


class ReturnsNone(FrameProcessor):
    def process(self, frame: RGBImage) -> None:
        frame[:] = 0


class ShortBytes(FrameProcessor):
    async def process(self, frame: bytes) -> bytes:
        return frame[:-3]
