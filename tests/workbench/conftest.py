"""Workbenches on small synthetic frames, closed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from byoc_lab import GreenTint, SyntheticSource
from byoc_lab.frames import RGBImage
from byoc_lab.workbench import Workbench

SIZE = (160, 120)
COLOR = (10, 20, 30)

RED_MAX = """\
import numpy as np

from byoc_lab import FrameProcessor, Param


class RedMax(FrameProcessor):
    level = Param(255, min=0, max=255)

    def process(self, frame: np.ndarray) -> np.ndarray:
        out = frame.copy()
        out[:, :, 0] = self.level
        return out
"""


def solid_source() -> SyntheticSource:
    """A flat colour (no frame number: every pixel is COLOR)."""
    return SyntheticSource("solid", width=SIZE[0], height=SIZE[1], color=COLOR, burn_in=False)


def center(image: RGBImage) -> tuple[int, int, int]:
    """Mean R, G, B of the middle of the frame (away from any burned-in code), rounded."""
    h, w = image.shape[:2]
    patch = image[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, 3).astype(np.float64)
    r, g, b = patch.mean(axis=0)
    return round(float(r)), round(float(g)), round(float(b))


@pytest.fixture
def bench() -> Iterator[Workbench]:
    """A GreenTint workbench on solid frames, not serving."""
    wb = Workbench(GreenTint(), source=solid_source(), size=SIZE, capability="wb-test")
    try:
        yield wb
    finally:
        wb.close()


@pytest.fixture
def served(bench: Workbench) -> Workbench:
    """The same, serving a LocalNetwork."""
    bench.serve()
    return bench
