"""An RGB-array processor with declared parameters, for export tests."""

from __future__ import annotations

import numpy as np

from byoc_lab import FrameProcessor, Param


class BoostTint(FrameProcessor):
    """Adds ``boost`` to the green channel, saturating at 255."""

    boost = Param(80, min=0, max=255, help='added to green ("G"), in $ units')
    mode = Param("add", choices=["add", "keep"], help="what to do (don't guess)")

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Return a copy of ``frame`` with its green channel boosted."""
        if self.mode == "keep":
            return frame
        out = frame.copy()
        out[:, :, 1] = np.minimum(frame[:, :, 1].astype(np.uint16) + self.boost, 255)
        return out
