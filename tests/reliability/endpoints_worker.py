"""Bad requests for every route of the worker (``byoc_lab/worker/app.py``)."""

from __future__ import annotations

from .endpoints import (
    BIG_INT,
    FRAME,
    HUGE_INT,
    JSON,
    RAW,
    Case,
    Endpoint,
    deep_json,
    huge,
    json_body,
)

STREAM = {"X-Stream-Id": "s1", **JSON}


def _param_cases(wrap: str | None, headers: dict[str, str]) -> list[Case]:
    """Bad stream parameters, as ``/stream/start``'s ``params`` (wrap) or a params body."""

    def case(name: str, params: dict[str, object], *says: str) -> Case:
        body = {"gateway_request_id": "s2", wrap: params} if wrap else params
        return Case(name, 400, says, body=json_body(body), headers=headers)

    return [
        case("unknown parameter", {"nosuch": 1}, "no parameter 'nosuch'", "boost"),
        case("parameter of the wrong type", {"boost": "lots"}, "boost", "whole number"),
        case("parameter too large for a float", {"boost": BIG_INT}, "boost", "255"),
        case("parameter out of bounds", {"boost": 999}, "boost", "between 0 and 255"),
        case("width without height", {"width": 64}, "width and height", "together"),
        case("frame rate as a superscript digit", {"max_framerate": "²"}, "max_framerate"),
        case("frame rate of 0", {"max_framerate": 0}, "max_framerate", "1 to 60"),
        case("detect_out_resolution not a bool", {"detect_out_resolution": "y"}, "true or false"),
    ]


def _json_cases(headers: dict[str, str], what: str) -> list[Case]:
    return [
        Case("malformed JSON", 400, (what, "not valid JSON"), body=b'{"a": ', headers=headers),
        Case("a JSON array", 400, ("must be a JSON object",), body=b'["s1"]', headers=headers),
        deep_json(headers=headers),
        Case(
            "a number over 4300 digits",
            400,
            ("not valid JSON", "4300"),
            body=b'{"boost": ' + HUGE_INT + b"}",
            headers=headers,
        ),
        Case(
            "text/plain instead of JSON",
            400,
            ("Content-Type: application/json",),
            body=b"{}",
            headers={**headers, "Content-Type": "text/plain"},
        ),
        huge(headers=headers),
    ]


def _start_cases() -> tuple[Case, ...]:
    def start(name: str, body: dict[str, object], *says: str) -> Case:
        return Case(name, 400, says, body=json_body(body), headers=JSON)

    cases = _json_cases(JSON, "/stream/start")
    cases += [
        start("no gateway_request_id", {}, "gateway_request_id", "non-empty string"),
        start("gateway_request_id a number", {"gateway_request_id": 5}, "gateway_request_id"),
        start("gateway_request_id with NUL", {"gateway_request_id": "a\x00b"}, "printable"),
        start("gateway_request_id too long", {"gateway_request_id": "s" * 300}, "at most 256"),
        start("params a string", {"gateway_request_id": "s2", "params": "x"}, "params"),
        start("subscribe_url a number", {"gateway_request_id": "s2", "subscribe_url": 5}, "http"),
        start(
            "subscribe_url a file path",
            {"gateway_request_id": "s2", "subscribe_url": "file:///etc/passwd"},
            "subscribe_url",
            "http://",
        ),
    ]
    return tuple(cases + _param_cases("params", JSON))


def _params_cases() -> tuple[Case, ...]:
    cases = _json_cases(STREAM, "/stream/params") + _param_cases(None, STREAM)
    cases.append(
        Case(
            "a stream that does not run",
            400,
            ("no stream 'nope'", "s1"),
            body=b'{"boost": 3}',
            headers={**JSON, "X-Stream-Id": "nope"},
        )
    )
    return tuple(cases)


def _stop_cases() -> tuple[Case, ...]:
    return (
        Case("no stream runs", 400, ("No active stream to stop",), setup=None),
        Case(
            "a stream that does not run",
            400,
            ("no stream 'nope'",),
            headers={"X-Stream-Id": "nope"},
            setup="worker-stream",
        ),
        huge(setup="worker-stream"),
        Case(
            "malformed JSON (the body is ignored, as pytrickle ignores it)",
            200,
            ("Stream stopped",),
            body=b'{"a": ',
            headers=STREAM,
            setup="worker-stream",
            documented="pytrickle ignores /stream/stop's body; the stream stops",
        ),
    )


def _get_cases(*says: str) -> tuple[Case, ...]:
    return (
        Case(
            "junk query and a body are ignored",
            200,
            says,
            path="?x=..%2F..%2Fetc&y=%00&" + "z" * 2000,
            body=b'{"a": ',
            headers=JSON,
            documented="a GET takes no input",
        ),
    )


def _batch_cases() -> tuple[Case, ...]:
    return (
        Case("raw frame of the wrong size", 400, ("64x48", "9,216 bytes"), body=b"x" * 10),
        Case("no Content-Type, wrong size", 400, ("9,216 bytes",), body=b"x" * 11),
        Case(
            "JSON body",
            415,
            ("Content-Type", "image/png"),
            body=b"{}",
            headers=JSON,
        ),
        Case("garbage PNG", 400, ("PNG",), body=b"garbage", headers={"Content-Type": "image/png"}),
        Case(
            "truncated JPEG",
            400,
            ("JPEG",),
            body=b"\xff\xd8\xff\xe0" + b"\x00" * 50,
            headers={"Content-Type": "image/jpeg"},
        ),
        huge(headers=RAW),
        Case(
            "path-like path (the batch route ignores its path)",
            200,
            path="/..%2F..%2Fetc%2Fpasswd%00/../x",
            body=FRAME,
            headers=RAW,
            documented="every other POST path is a batch job, as in pytrickle",
        ),
    )


def worker_endpoints() -> list[Endpoint]:
    """Every worker route (``""`` and ``/api`` prefixes, pytrickle's aliases)."""
    endpoints: list[Endpoint] = []
    for prefix in ("", "/api"):
        endpoints += [
            Endpoint(
                "worker", "POST", f"{prefix}/stream/start", f"{prefix}/stream/start", _start_cases()
            ),
            Endpoint(
                "worker",
                "POST",
                f"{prefix}/stream/params",
                f"{prefix}/stream/params",
                _params_cases(),
                setup="worker-stream",
            ),
            Endpoint(
                "worker", "POST", f"{prefix}/stream/stop", f"{prefix}/stream/stop", _stop_cases()
            ),
            Endpoint(
                "worker",
                "GET",
                f"{prefix}/stream/status",
                f"{prefix}/stream/status",
                _get_cases('"active_streams"'),
            ),
        ]
    endpoints += [
        Endpoint("worker", "POST", "/live-video-to-video", "/live-video-to-video", _start_cases()),
        Endpoint("worker", "GET", "/health", "/health", _get_cases('"status"')),
        Endpoint("worker", "GET", "/version", "/version", _get_cases('"model_id"')),
        Endpoint("worker", "GET", "/hardware/info", "/hardware/info", _get_cases('"gpu_info"')),
        Endpoint("worker", "GET", "/hardware/stats", "/hardware/stats", _get_cases('"gpu_info"')),
        Endpoint("worker", "POST", "/{path}", "/any/job/path", _batch_cases()),
    ]
    return endpoints
