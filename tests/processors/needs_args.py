"""A processor whose constructor needs an argument (breaks the contract)."""

from __future__ import annotations

from byoc_lab import FrameProcessor
from byoc_lab.frames import RGBImage


class NeedsModelPath(FrameProcessor):
    def __init__(self, model_path: str) -> None:
        super().__init__()
        self.model_path = model_path

    def process(self, frame: RGBImage) -> RGBImage:
        return frame
