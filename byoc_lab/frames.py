"""Frames: RGB ``uint8`` arrays of shape ``HxWx3``, and conversions at the edges.

Inside byoc_lab a frame image is always RGB, ``uint8``, ``HxWx3``. Conversions to
other forms happen only at the edges: raw bytes for the quickstart's ``bytes``
processors, BGR for OpenCV, JPEG/PNG for HTTP bodies and the preview.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._cv2 import import_cv2
from .errors import FrameError

__all__ = [
    "Frame",
    "RGBImage",
    "decode_image",
    "describe_array",
    "encode_image",
    "from_bgr",
    "rgb_from_bytes",
    "rgb_to_bytes",
    "to_bgr",
    "validate_rgb",
]

RGBImage = npt.NDArray[np.uint8]
ImageFormat = Literal["jpeg", "png"]


@dataclass(frozen=True)
class Frame:
    """One video frame from a source.

    Attributes:
        image: RGB ``uint8`` array of shape ``(height, width, 3)``.
        index: 0-based position in its source.
        timestamp: presentation time in seconds from the source's start.
    """

    image: RGBImage
    index: int
    timestamp: float

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.image.shape[0])


def describe_array(value: Any) -> str:
    """Describe any value the way error messages show it (shape, dtype, or type)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {tuple(value.shape)} {value.dtype}"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{type(value).__name__} of length {len(value):,}"
    return f"a {type(value).__name__}"


def validate_rgb(value: Any, what: str = "frame") -> RGBImage:
    """Return ``value`` if it is an RGB uint8 ``HxWx3`` array, else raise :class:`FrameError`."""
    if (
        isinstance(value, np.ndarray)
        and value.dtype == np.uint8
        and value.ndim == 3
        and value.shape[2] == 3
        and value.shape[0] > 0
        and value.shape[1] > 0
    ):
        return value
    raise FrameError(
        f"{what} is not an RGB image",
        expected="a numpy uint8 array of shape (height, width, 3)",
        got=describe_array(value),
        fix="convert with np.asarray(x).astype(np.uint8) and keep three colour channels",
    )


def rgb_from_bytes(data: bytes | bytearray | memoryview, width: int, height: int) -> RGBImage:
    """View raw RGB bytes (``width*height*3`` long, row-major) as an ``HxWx3`` array.

    The result is read-only when ``data`` is immutable; copy it before writing.
    """
    expected = width * height * 3
    if len(data) != expected:
        raise FrameError(
            f"raw RGB data does not match a {width}x{height} frame",
            expected=f"{expected:,} bytes ({width}*{height}*3)",
            got=f"{len(data):,} bytes",
            fix="send width*height*3 bytes of packed RGB, or configure the frame size",
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def rgb_to_bytes(image: RGBImage) -> bytes:
    """Pack an RGB image into raw row-major bytes (``width*height*3``)."""
    return validate_rgb(image).tobytes()


def to_bgr(image: RGBImage) -> RGBImage:
    """Return the BGR twin of an RGB image, for handing to OpenCV."""
    return np.ascontiguousarray(validate_rgb(image)[:, :, ::-1])


def from_bgr(image: npt.NDArray[np.uint8]) -> RGBImage:
    """Return the RGB twin of a BGR image that came from OpenCV."""
    return np.ascontiguousarray(validate_rgb(image, "OpenCV image")[:, :, ::-1])


def encode_image(image: RGBImage, fmt: ImageFormat = "jpeg", quality: int = 85) -> bytes:
    """Encode an RGB image as JPEG or PNG bytes (needs OpenCV)."""
    cv2 = import_cv2(f"encode {fmt.upper()} images")
    ext = ".jpg" if fmt == "jpeg" else ".png"
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)] if fmt == "jpeg" else []
    ok, buf = cv2.imencode(ext, to_bgr(image), params)
    if not ok:
        raise FrameError(
            f"OpenCV could not encode a {fmt.upper()} image", got=describe_array(image)
        )
    return bytes(buf.tobytes())


def decode_image(data: bytes | bytearray | memoryview) -> RGBImage:
    """Decode JPEG/PNG (or any format OpenCV reads) into an RGB image."""
    cv2 = import_cv2("decode images")
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None:
        head = bytes(data[:8]).hex(" ")
        raise FrameError(
            "the body is not an image OpenCV can decode",
            expected="JPEG or PNG bytes",
            got=f"{len(data):,} bytes starting with {head or '(nothing)'}",
            fix="send a whole JPEG/PNG file, or raw RGB as Content-Type application/octet-stream",
        )
    return from_bgr(bgr)
