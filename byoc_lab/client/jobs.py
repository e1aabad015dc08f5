"""The requests a client sends a gateway, built as go-livepeer and byoc-sdk build them.

- :func:`submit_job`: ``POST /process/request/{path}``, the ``Livepeer`` header with
  ``request`` and ``parameters`` ``"{}"``, the capability and ``timeout_seconds``.
- :func:`send_frame`: a frame as a batch job (raw RGB, PNG or JPEG), answered in kind.
- :func:`start_stream`: ``POST /process/stream/start`` with ``parameters`` enabling video
  ingress and egress (and data), and go-livepeer's ``StartRequest`` body whose
  ``params`` is a JSON **string**; returns the ``StreamUrls`` answer.

Each runs on the loop that owns ``http`` and raises as
:func:`~byoc_lab.client.calls.call_gateway` does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import numpy as np
from aiohttp import hdrs

from byoc_lab.client.calls import JobResult, call_gateway
from byoc_lab.errors import FrameError, JobError, ParamError, RegistrationError, RequestError
from byoc_lab.frames import (
    ImageFormat,
    RGBImage,
    decode_image,
    describe_array,
    encode_image,
    validate_rgb,
)
from byoc_lab.network.livepeer_header import LIVEPEER_HEADER, JobParameters, build_job_header
from byoc_lab.network.wire import check_worker_path
from byoc_lab.worker.registration import validate_capability_name

__all__ = [
    "GATEWAY_MARGIN_S",
    "RAW",
    "check_capability",
    "check_timeout",
    "send_frame",
    "start_stream",
    "submit_job",
]

RAW: Final = "application/octet-stream"
GATEWAY_MARGIN_S: Final = 10.0
"""Added to ``timeout_seconds`` for the client's own wait: the gateway's orchestrator
search (1 s) and its margin over the orchestrator's wait (5 s), so a gateway's answer,
even a timeout, arrives before the client gives up."""

_IMAGE_TYPES: Final[dict[str, ImageFormat]] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
}


def check_capability(name: object) -> str:
    """Return ``name`` if it can name a capability.

    Raises:
        ParamError: not a str, or not 1-64 of ``A-Z a-z 0-9 . _ -`` (no ``..``).
    """
    if not isinstance(name, str):
        raise ParamError(
            "the capability must be a str (it is the first argument of submit_job)",
            got=describe_array(name),
            fix="pass the body by name: submit_job(body=...)",
        )
    try:
        return validate_capability_name(name)
    except RegistrationError as exc:
        raise ParamError(
            f"{name!r} is not a usable capability name", expected=exc.expected, got=exc.got
        ) from exc


def check_timeout(seconds: object) -> int:
    """Return ``seconds`` if it is a positive int (go-livepeer's header field is one).

    Raises:
        ParamError: anything else.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ParamError(
            "timeout_seconds must be a positive whole number of seconds",
            got=repr(seconds),
            fix="e.g. timeout_seconds=30",
        )
    return seconds


async def submit_job(
    http: aiohttp.ClientSession,
    base_url: str,
    capability: str,
    body: bytes | bytearray | memoryview | str,
    *,
    path: str,
    content_type: str,
    timeout_seconds: int,
) -> JobResult:
    """``POST {base_url}/process/request/{path}`` with a go-livepeer-valid header.

    Raises:
        ParamError: a path that cannot be forwarded (``..``, escaped slashes, …).
        JobError, JobTimeoutError: as :func:`~byoc_lab.client.calls.call_gateway`.
    """
    data = body.encode() if isinstance(body, str) else bytes(body)
    headers = {
        LIVEPEER_HEADER: build_job_header(capability, timeout_seconds=timeout_seconds),
        hdrs.CONTENT_TYPE: content_type,
    }
    return await call_gateway(
        http,
        "POST",
        f"{base_url}/process/request/{_job_path(path)}",
        what=f"the {capability} job",
        seconds=timeout_seconds + GATEWAY_MARGIN_S,
        data=data,
        headers=headers,
    )


async def send_frame(
    http: aiohttp.ClientSession,
    base_url: str,
    capability: str,
    frame: object,
    *,
    path: str,
    content_type: str | None,
    timeout_seconds: int,
) -> RGBImage | bytes:
    """Send ``frame`` as a batch job; bytes come back as bytes, an array as an array.

    Raises:
        FrameError: ``frame`` is neither, or a raw answer does not fit the input's size.
        ParamError: a content type an array cannot be sent as.
        JobError, JobTimeoutError: as :func:`submit_job`.
    """

    async def job(body: bytes | bytearray | memoryview, kind: str) -> JobResult:
        return await submit_job(
            http,
            base_url,
            capability,
            body,
            path=path,
            content_type=kind,
            timeout_seconds=timeout_seconds,
        )

    if isinstance(frame, bytes | bytearray | memoryview):
        return (await job(frame, content_type or RAW)).body
    if not isinstance(frame, np.ndarray):
        raise FrameError(
            "send_frame() takes an RGB image or bytes",
            expected="a numpy uint8 array of shape (height, width, 3), or bytes",
            got=describe_array(frame),
        )
    image = validate_rgb(frame)
    kind = (content_type or RAW).split(";")[0].strip().lower()
    if kind == RAW:
        return _raw_answer((await job(image.tobytes(), RAW)).body, image)
    image_format = _IMAGE_TYPES.get(kind)
    if image_format is None:
        raise ParamError(
            "send_frame() cannot send an array as this content type",
            expected="application/octet-stream (raw RGB), image/png or image/jpeg",
            got=kind,
        )
    encoded = await asyncio.to_thread(encode_image, image, image_format)
    answer = await job(encoded, kind)
    return await asyncio.to_thread(decode_image, answer.body)


async def start_stream(
    http: aiohttp.ClientSession,
    base_url: str,
    capability: str,
    params: Mapping[str, Any] | None,
    *,
    stream_id: str | None,
    stream_name: str,
    enable_data: bool,
    timeout_seconds: int,
) -> dict[str, str]:
    """``POST {base_url}/process/stream/start``; return the answer's string fields.

    Raises:
        ParamError: ``params`` that do not serialise to JSON.
        JobError: a refusal, or an answer that is not ``StreamUrls`` JSON.
        JobTimeoutError: no answer in time.
    """
    parameters = JobParameters(
        enable_video_ingress=True, enable_video_egress=True, enable_data_output=enable_data
    )
    headers = {
        LIVEPEER_HEADER: build_job_header(
            capability, timeout_seconds=timeout_seconds, parameters=parameters
        ),
        hdrs.CONTENT_TYPE: "application/json",
    }
    result = await call_gateway(
        http,
        "POST",
        f"{base_url}/process/stream/start",
        what=f"starting a {capability} stream",
        seconds=timeout_seconds + GATEWAY_MARGIN_S,
        data=_start_request(params, stream_id, stream_name),
        headers=headers,
    )
    return _stream_urls(result)


def _job_path(path: str) -> str:
    try:
        return check_worker_path(path.lstrip("/"))
    except RequestError as exc:
        raise ParamError(exc.message, expected=exc.expected, got=exc.got) from exc


def _raw_answer(body: bytes, sent: RGBImage) -> RGBImage:
    height, width = sent.shape[:2]
    expected = height * width * 3
    if len(body) != expected:
        raise FrameError(
            "the worker's raw answer does not fit the frame that was sent",
            expected=f"{expected:,} bytes ({width}x{height} RGB, the input's size; raw RGB "
            "carries no size of its own)",
            got=f"{len(body):,} bytes",
            fix="if the processor changes the frame size, send content_type='image/png' so "
            "the answer carries its size, or send bytes and reshape the answer yourself",
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(height, width, 3).copy()


def _start_request(
    params: Mapping[str, Any] | None, stream_id: str | None, stream_name: str
) -> bytes:
    """go-livepeer's ``StartRequest``, in byoc-sdk's field order; ``params`` as a string."""
    try:
        params_text = json.dumps(dict(params or {}))
    except (TypeError, ValueError) as exc:
        raise ParamError(f"stream params must be JSON-serialisable ({exc})") from exc
    body = {
        "stream_name": stream_name,
        "params": params_text,
        "stream_id": stream_id or "",
        "rtmp_output": "",
    }
    return json.dumps(body).encode()


def _stream_urls(result: JobResult) -> dict[str, str]:
    try:
        urls = result.json()
    except ValueError:
        urls = None
    if not isinstance(urls, dict) or not isinstance(urls.get("stream_id"), str):
        raise JobError(
            f"the gateway's stream start answer is not StreamUrls JSON: {result.text()[:200]!r}",
            status=result.status,
            url=result.url,
            text=result.text(),
        )
    return {str(k): v for k, v in urls.items() if isinstance(v, str)}
