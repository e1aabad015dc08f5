"""A processor that does not subclass FrameProcessor: sync hooks, sync process."""

from __future__ import annotations

from byoc_lab.frames import RGBImage


class Mirror:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def initialize(self) -> None:
        self.calls.append("initialize")

    def process(self, frame: RGBImage) -> RGBImage:
        return frame[:, ::-1].copy()

    def shutdown(self) -> None:
        self.calls.append("shutdown")
