"""What a stream's reserved parameters do to its frames: size and frame rate.

``width``/``height`` (given together) make the processor receive frames of exactly
that size: the input is scaled to cover it and centre-cropped, as pytrickle does (no
letterboxing, aspect ratio kept). Without them the processor gets the input's own
size (pytrickle would force 512x512). ``max_framerate`` drops input frames that come
faster than that rate, judged on presentation timestamps so the result does not
depend on network jitter. Both run in the decode thread, with PyAV's swscale.
"""

from __future__ import annotations

import math

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from byoc_lab.frames import RGBImage
from byoc_lab.media import CLOCK

__all__ = ["CoverScaler", "FrameRateLimiter"]


class FrameRateLimiter:
    """Keeps at most ``max_fps`` frames per second of presentation time.

    A frame is kept when its timestamp reaches the next due time (with a tenth of a
    period of slack for rounding); the due time then advances by one period, so 30 fps
    input limited to 24 keeps 24 frames a second, not 15. A jump in time (a gap, or
    a new stream starting over) restarts the schedule at the frame that made it.
    """

    def __init__(self) -> None:
        self._next_due: float | None = None
        self._last_pts: int | None = None

    def admit(self, pts: int, max_fps: int | None) -> bool:
        """Whether to keep the frame shown at ``pts`` (90 kHz ticks)."""
        if max_fps is None or max_fps <= 0:
            self._next_due, self._last_pts = None, pts
            return True
        period = CLOCK / max_fps
        due = self._next_due
        restart = due is None or self._last_pts is None or pts < self._last_pts
        self._last_pts = pts
        if restart or due is None or pts - due > period:
            self._next_due = pts + period
            return True
        if pts + period / 10 >= due:
            self._next_due = due + period
            return True
        return False


class CoverScaler:
    """Scales RGB frames to cover a target size and crops the centre; not thread-safe."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def __call__(self, image: RGBImage, width: int, height: int) -> RGBImage:
        """``image`` resized and centre-cropped to ``width`` x ``height`` (itself if equal)."""
        src_h, src_w = image.shape[:2]
        if (src_w, src_h) == (width, height):
            return image
        scale = max(width / src_w, height / src_h)
        # The part of the source that stays after the crop, in source pixels.
        crop_w = min(src_w, max(1, math.ceil(width / scale)))
        crop_h = min(src_h, max(1, math.ceil(height / scale)))
        x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
        region = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
        frame = av.VideoFrame.from_numpy_buffer(region, format="rgb24")
        scaled = self._reformatter.reformat(frame, width=width, height=height)
        out: RGBImage = np.ascontiguousarray(scaled.to_ndarray(), dtype=np.uint8)
        return out
