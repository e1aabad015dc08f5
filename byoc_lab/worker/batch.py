"""Batch jobs: one request body in, one processed body out.

This is the quickstart's first job and what go-livepeer's orchestrator forwards from
``/process/request/{path}`` (only ``Content-Type`` and ``Content-Length`` travel
with the raw body). By content type:

- ``application/octet-stream`` (or none): raw bytes. A ``bytes`` processor gets them
  untouched; an array processor gets them reshaped to the worker's frame size, and a
  body of another length is rejected with both sizes named.
- ``image/png``, ``image/jpeg``: decoded, processed and re-encoded in the same format
  (needs OpenCV from the ``lab`` or ``container`` extra).

The response carries the request's content type.
"""

from __future__ import annotations

from dataclasses import dataclass

from byoc_lab.errors import DependencyError, FrameError, RequestError
from byoc_lab.frames import ImageFormat, decode_image, encode_image, rgb_from_bytes
from byoc_lab.runner import InputKind, ProcessorRunner

__all__ = ["BatchResult", "run_batch"]

RAW = "application/octet-stream"
_IMAGE_FORMATS: dict[str, ImageFormat] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
}


@dataclass(frozen=True)
class BatchResult:
    """A processed body and the content type to answer with."""

    body: bytes
    content_type: str


async def run_batch(
    runner: ProcessorRunner, body: bytes, content_type: str, frame_size: tuple[int, int]
) -> BatchResult:
    """Process one request body.

    Raises:
        RequestError: unsupported content type (415), a raw body of the wrong size or an
            undecodable image (400), OpenCV missing for images (501).
        FrameContractError: the processor returned a malformed frame.
        Exception: whatever the processor raised.
    """
    kind = (content_type or RAW).split(";")[0].strip().lower()
    if kind == RAW:
        return BatchResult(await _raw(runner, body, frame_size), RAW)
    image_format = _IMAGE_FORMATS.get(kind)
    if image_format is None:
        raise RequestError(
            "unsupported Content-Type for a batch job",
            status=415,
            field="Content-Type",
            expected="application/octet-stream (raw RGB), image/png or image/jpeg",
            got=kind,
        )
    try:
        image = decode_image(body)
        out = await runner.process(image)
        encoded = encode_image(out, image_format)
    except DependencyError as exc:
        raise RequestError(str(exc), status=501) from exc
    except FrameError as exc:
        raise RequestError(str(exc)) from exc
    return BatchResult(encoded, kind)


async def _raw(runner: ProcessorRunner, body: bytes, frame_size: tuple[int, int]) -> bytes:
    if runner.input_kind is InputKind.BYTES:
        return await runner.process_bytes(body)
    width, height = frame_size
    try:
        image = rgb_from_bytes(body, width, height)
    except FrameError as exc:
        raise RequestError(
            f"the raw body does not match this worker's {width}x{height} frame size",
            expected=f"{width * height * 3:,} bytes ({width}x{height} packed RGB)",
            got=f"{len(body):,} bytes",
            fix="send frames of the configured size, or start the worker with another "
            "frame size (--frame-size WIDTHxHEIGHT)",
        ) from exc
    out = await runner.process(image.copy())
    return out.tobytes()
