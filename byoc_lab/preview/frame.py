"""One processed preview frame: what went into ``process()``, what came out, and why not."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from byoc_lab.frames import RGBImage, encode_image

__all__ = ["PreviewFrame"]


@dataclass(eq=False)
class PreviewFrame:
    """A frame as the preview shows it.

    Attributes:
        seq: engine-wide number, strictly increasing from 1 in the order frames were
            handled (a view acknowledges frames by it).
        index: the source frame's index.
        input: the RGB image that went into ``process()``.
        output: the RGB image ``process()`` returned; None when it raised, timed out,
            or was not called because an earlier call still hangs.
        process_ms: how long ``process()`` took (None without an output).
        error: one line saying why there is no output (None when there is one).
        jpeg_quality: quality of the JPEG encodings below.

    The JPEG encodings are made lazily, once, in the thread that first asks for them
    (a view's sender, never the event loop), and cached; concurrent callers get the
    same bytes.
    """

    seq: int
    index: int
    input: RGBImage
    output: RGBImage | None
    process_ms: float | None
    error: str | None
    jpeg_quality: int = 80
    _input_jpeg: bytes | None = field(default=None, init=False, repr=False)
    _output_jpeg: bytes | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def input_jpeg(self) -> bytes:
        """The input as JPEG bytes (encoded on first call, then cached)."""
        with self._lock:
            if self._input_jpeg is None:
                self._input_jpeg = encode_image(self.input, "jpeg", self.jpeg_quality)
            return self._input_jpeg

    def output_jpeg(self) -> bytes | None:
        """The output as JPEG bytes (cached), or None when there is no output."""
        if self.output is None:
            return None
        with self._lock:
            if self._output_jpeg is None:
                self._output_jpeg = encode_image(self.output, "jpeg", self.jpeg_quality)
            return self._output_jpeg

    def side_by_side(self, gap: int = 8) -> RGBImage:
        """Input and output next to each other (a black output pane when there is none).

        What a notebook shows where widgets cannot run (a code host, nbviewer): a still
        of the preview as it was when the cell ran.
        """
        height = self.input.shape[0]
        output = self.output
        if output is None or output.shape != self.input.shape:
            output = np.zeros_like(self.input)
        spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
        return np.ascontiguousarray(np.hstack([self.input, spacer, output]))

    @property
    def ok(self) -> bool:
        """True when ``process()`` returned an output for this frame."""
        return self.output is not None
