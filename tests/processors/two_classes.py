"""Two processor classes in one file: loading needs FILE:Class."""

from __future__ import annotations

from byoc_lab import FrameProcessor, Param
from byoc_lab.frames import RGBImage


class Brighten(FrameProcessor):
    amount = Param(10, min=0, max=100)

    def process(self, frame: RGBImage) -> RGBImage:
        return (frame.astype("uint16") + self.amount).clip(0, 255).astype("uint8")


class Invert(FrameProcessor):
    def process(self, frame: RGBImage) -> RGBImage:
        return 255 - frame
