"""Raises on every frame whose burned-in number is odd; passes even frames through."""

from __future__ import annotations

from byoc_lab import FrameProcessor, read_frame_number
from byoc_lab.frames import RGBImage


class RaisesOnOddFrames(FrameProcessor):
    def process(self, frame: RGBImage) -> RGBImage:
        number = read_frame_number(frame)
        if number is not None and number % 2:
            raise ValueError(f"odd frame {number}")
        return frame
