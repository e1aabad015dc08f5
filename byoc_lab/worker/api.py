"""Parsing and validating the worker's HTTP request bodies, pytrickle 0.1.6-compatible.

``/stream/start`` takes ``{"gateway_request_id": str, "subscribe_url"?, "publish_url"?,
"control_url"?, "events_url"?, "data_url"?, "params"?: {...}}`` as JSON; go-livepeer's
orchestrator sends exactly that (wire doc §1.4) with the stream id also in
``X-Stream-Id``. Stream params reserve ``width``/``height`` (together, positive
integers), ``max_framerate`` (1..60) and ``detect_out_resolution`` (bool); every other
key belongs to the processor. Every rejection is a :class:`RequestError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from byoc_lab.errors import RequestError

__all__ = [
    "RESERVED_PARAMS",
    "StartBody",
    "parse_json_object",
    "parse_start_body",
    "split_params",
    "validate_stream_params",
]

RESERVED_PARAMS = frozenset({"width", "height", "max_framerate", "detect_out_resolution"})
_URL_FIELDS = ("subscribe_url", "publish_url", "control_url", "events_url", "data_url")
_MAX_ID = 256


@dataclass(frozen=True)
class StartBody:
    """A validated ``/stream/start`` body."""

    gateway_request_id: str
    subscribe_url: str | None = None
    publish_url: str | None = None
    control_url: str | None = None
    events_url: str | None = None
    data_url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def parse_json_object(body: bytes, content_type: str, *, what: str) -> dict[str, Any]:
    """Decode a JSON object body, or raise RequestError saying what was wrong."""
    if content_type and content_type != "application/json":
        raise RequestError(
            f"{what} needs a JSON body",
            field="Content-Type",
            expected="Content-Type: application/json",
            got=f"Content-Type: {content_type}",
        )
    try:
        value = json.loads(body or b"{}")
    except (ValueError, RecursionError) as exc:  # ValueError: also numbers over 4300 digits
        raise RequestError(
            f"{what} body is not valid JSON ({exc})",
            expected="a JSON object",
            got=f"{len(body):,} bytes starting {body[:40]!r}",
        ) from exc
    if not isinstance(value, dict):
        raise RequestError(
            f"{what} body must be a JSON object", expected="{...}", got=type(value).__name__
        )
    return value


def parse_start_body(body: bytes, content_type: str, stream_id: str | None) -> StartBody:
    """Validate a ``/stream/start`` request (``stream_id`` is the ``X-Stream-Id`` header)."""
    data = parse_json_object(body, content_type, what="/stream/start")
    request_id = data.get("gateway_request_id")
    if request_id is None and stream_id:
        request_id = stream_id
    if not isinstance(request_id, str) or not request_id:
        raise RequestError(
            "/stream/start needs gateway_request_id",
            field="gateway_request_id",
            expected="a non-empty string (the stream id)",
            got=repr(request_id) if request_id is not None else "nothing",
        )
    if len(request_id) > _MAX_ID or any(ord(c) < 32 for c in request_id):
        raise RequestError(
            "gateway_request_id is not a usable stream id",
            field="gateway_request_id",
            expected=f"at most {_MAX_ID} printable characters",
            got=f"{len(request_id)} characters: {request_id[:40]!r}",
        )
    urls: dict[str, str | None] = {}
    for name in _URL_FIELDS:
        value = data.get(name)
        if value is not None and (
            not isinstance(value, str) or not value.startswith(("http://", "https://"))
        ):
            raise RequestError(
                f"{name} is not an http(s) URL",
                field=name,
                expected="http://… or https://…",
                got=repr(value)[:80],
            )
        urls[name] = value or None
    params = data.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RequestError(
            "params must be a JSON object", field="params", got=type(params).__name__
        )
    return StartBody(gateway_request_id=request_id, params=validate_stream_params(params), **urls)


def validate_stream_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise the reserved keys, as pytrickle does; other keys pass as they are."""
    result = dict(params)
    dims = {"width", "height"} & result.keys()
    if dims and dims != {"width", "height"}:
        given = next(iter(dims))
        raise RequestError(
            "width and height must be given together",
            field=given,
            expected="both width and height",
            got=f"only {given}",
        )
    for name in sorted(dims):
        result[name] = _positive_int(result[name], name, high=8192)
    if "max_framerate" in result:
        result["max_framerate"] = _positive_int(result["max_framerate"], "max_framerate", high=60)
    if "detect_out_resolution" in result and not isinstance(result["detect_out_resolution"], bool):
        raise RequestError(
            "detect_out_resolution must be true or false",
            field="detect_out_resolution",
            got=repr(result["detect_out_resolution"]),
        )
    return result


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split into (reserved stream keys, processor parameters)."""
    reserved = {k: v for k, v in params.items() if k in RESERVED_PARAMS}
    rest = {k: v for k, v in params.items() if k not in RESERVED_PARAMS}
    return reserved, rest


def _positive_int(value: Any, name: str, *, high: int) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        try:
            number = int(value.strip())
        except ValueError:  # "²" is a digit to isdigit() but not to int()
            number = None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not 1 <= number <= high:
        raise RequestError(
            f"{name} is out of range",
            field=name,
            expected=f"a whole number from 1 to {high}",
            got=repr(value),
        )
    return number
