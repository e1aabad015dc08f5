"""Preview test helpers: solid numbered frames, pixels, polling, user-text processors.

Everything is real: engines run on byoc_lab's background loop, sources are real
sources (synthetic frames with their numbers burned in, video files written by
OpenCV), processors are real processors. Nothing here asserts speed: the machine is
shared, so waits poll generously for an outcome instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from byoc_lab.frames import RGBImage
from byoc_lab.preview import PreviewFrame
from byoc_lab.sources import SyntheticSource
from byoc_lab.tracebacks import register_source, user_filename

T = TypeVar("T")

SIZE = (320, 240)
BASE = (10, 20, 30)
"""Colour of the solid synthetic test frames."""

FAR = (230, 310)
"""A pixel (row, column) far from the burned-in frame number of a 320x240 frame."""


def solid(color: tuple[int, int, int] = BASE, **kwargs: Any) -> SyntheticSource:
    """Solid frames of ``color``, 320x240, frame numbers burned in."""
    return SyntheticSource("solid", width=SIZE[0], height=SIZE[1], color=color, **kwargs)


def pixel(image: RGBImage | None) -> tuple[int, int, int]:
    """The RGB value at :data:`FAR`."""
    assert image is not None
    r, g, b = (int(v) for v in image[FAR])
    return r, g, b


def wait_for(
    probe: Callable[[], T | None], what: str, timeout: float = 10.0, every: float = 0.02
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def compile_user(text: str, label: str = "editor") -> type:
    """Define the one class in ``text`` as the editor would (filename known to linecache)."""
    filename = user_filename(label)
    register_source(filename, text)
    namespace: dict[str, Any] = {"__name__": "byoc_lab_test_user"}
    exec(compile(text, filename, "exec"), namespace)
    classes = [v for v in namespace.values() if isinstance(v, type) and "process" in vars(v)]
    assert len(classes) == 1, classes
    return classes[0]


class Frames:
    """Collects every frame an engine hands to ``on_frame`` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: list[PreviewFrame] = []

    def __call__(self, frame: PreviewFrame) -> None:
        with self._lock:
            self._frames.append(frame)

    def all(self) -> list[PreviewFrame]:
        with self._lock:
            return list(self._frames)

    def after(self, seq: int) -> list[PreviewFrame]:
        return [f for f in self.all() if f.seq > seq]


def green_boosted(boost: int) -> tuple[int, int, int]:
    """What GreenTint makes of :data:`BASE`."""
    r, g, b = BASE
    return r, min(255, g + boost), b


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tol: int = 3) -> None:
    """Pixel equality within ``tol`` per channel (JPEG and video codecs are lossy)."""
    assert np.all(np.abs(np.array(actual) - np.array(expected)) <= tol), (actual, expected)
