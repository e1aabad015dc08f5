"""Bad requests for every route of the gateway (``byoc_lab/network/gateway*``)."""

from __future__ import annotations

from typing import Any

from .endpoints import (
    BIG_INT,
    FRAME,
    JSON,
    PATHLIKE_NAMES,
    PATHLIKE_SEGMENTS,
    RAW,
    Case,
    Endpoint,
    header_cases,
    huge,
    job_cases,
    json_body,
    livepeer,
)


def _start_request(**fields: Any) -> bytes:
    return json_body({k: v for k, v in fields.items() if v is not None})


def _gateway_start_cases() -> tuple[Case, ...]:
    ok = {**livepeer(), **JSON}

    def bad(name: str, body: bytes, *says: str, status: int = 400) -> Case:
        return Case(name, status, says, body=body, headers=ok)

    cases = [
        *header_cases(b"{}", JSON, parameters=True),
        bad("malformed JSON", b'{"stream_id": ', "not valid JSON"),
        bad("a JSON array", b"[]", "must be a JSON object"),
        bad("JSON nested too deep", b"[" * 5000, "not valid JSON"),
        bad("stream_id a number", _start_request(stream_id=5), "stream_id", "string"),
        bad("params an object, not a string", _start_request(params={}), "params", "string"),
        bad("params not JSON", _start_request(params="{"), "invalid model params"),
        bad("params a JSON array", _start_request(params="[1]"), "invalid model params"),
        bad("params nested too deep", _start_request(params="[" * 5000), "invalid model params"),
        bad("stream_name ending in -out", _start_request(stream_name="cam-out"), "-out"),
        bad(
            "a bad processor parameter (the worker's 400)",
            _start_request(params='{"boost": 999}'),
            "boost",
            "between 0 and 255",
        ),
        Case(
            "a capability nobody offers",
            400,
            ("No orchestrators found for capability nosuch",),
            body=b"{}",
            headers={**livepeer(capability="nosuch"), **JSON},
        ),
        Case(
            "orchestrators filter not an object",
            400,
            ("orchestrators",),
            body=b"{}",
            headers={**livepeer(parameters='{"orchestrators": [1]}'), **JSON},
        ),
        huge("262144", headers=ok),
    ]
    for field in ("stream_id", "stream_name"):
        cases += [
            bad(f"{field} {n[:20]!r}", _start_request(**{field: n}), "not a usable stream id")
            for n in PATHLIKE_NAMES[:-1]
        ]
    return tuple(cases)


def _gateway_stream_cases(verb: str) -> tuple[Case, ...]:
    """``/process/stream/{id}/{verb}``: ids that are not streams, and (update) bad bodies."""
    ok = {**livepeer(request='{"stream_id": "gs1"}'), **JSON}
    cases = [
        Case(
            f"stream id {s[:20]!r}",
            400,
            ("not a usable stream id",),
            path=f"/process/stream/{s}/{verb}",
            headers=ok,
        )
        for s in PATHLIKE_SEGMENTS
    ]
    cases.append(
        Case(
            "a stream that does not run",
            404,
            ("Stream not found",),
            path=f"/process/stream/nope/{verb}",
            headers=ok,
        )
    )
    if verb in ("update", "stop"):
        cases.append(huge("262144", headers=ok))
    if verb == "update":
        cases += [
            *header_cases(b'{"boost": 3}', JSON)[:7],
            Case(
                "header for another capability",
                400,
                ("another capability",),
                body=b"{}",
                headers={**livepeer(capability="other"), **JSON},
            ),
            Case(
                "header for another stream",
                400,
                ("another stream",),
                body=b"{}",
                headers={**livepeer(request='{"stream_id": "gs9"}'), **JSON},
            ),
            Case(
                "malformed JSON (the worker's 400)",
                400,
                ("not valid JSON",),
                body=b'{"a": ',
                headers=ok,
            ),
            Case(
                "a parameter out of bounds (the worker's 400)",
                400,
                ("boost", "255"),
                body=b'{"boost": 999}',
                headers=ok,
            ),
            Case(
                "a parameter too large (the worker's 400)",
                400,
                ("boost",),
                body=json_body({"boost": BIG_INT}),
                headers=ok,
            ),
        ]
    if verb == "data":
        cases.append(
            Case(
                "a stream without a data channel",
                503,
                ("enable_data_output",),
                path="/process/stream/gs1/data",
                documented="go-livepeer answers 503 when the data channel is off (wire doc)",
            )
        )
    return tuple(cases)


def _compat_cases() -> tuple[Case, ...]:
    cases = [
        Case("no X-Model-Id", 400, ("X-Model-Id header missing",), body=FRAME, headers=RAW),
        Case(
            "raw frame of the wrong size (the worker's 400)",
            400,
            ("64x48",),
            body=b"x",
            headers={"X-Model-Id": "tint", **RAW},
        ),
        Case(
            "JSON body (the worker's 415)",
            415,
            ("image/png",),
            body=b"{}",
            headers={"X-Model-Id": "tint", **JSON},
        ),
        Case(
            "a capability nobody offers",
            400,
            ("No orchestrators found",),
            body=FRAME,
            headers={"X-Model-Id": "nosuch", **RAW},
        ),
        huge("262144", headers={"X-Model-Id": "tint", **RAW}),
    ]
    cases += [
        Case(
            f"X-Model-Id {n[:20]!r}",
            400,
            ("X-Model-Id",),
            body=FRAME,
            headers={"X-Model-Id": n, **RAW},
        )
        for n in ("../x", "a/b", "a%2Fb", "x" * 300)
    ]
    return tuple(cases)


def gateway_endpoints() -> list[Endpoint]:
    """Every gateway route."""
    stream = "/process/stream/gs1"
    return [
        Endpoint(
            "gateway",
            "POST",
            "/process/request/{path}",
            "/process/request/x",
            tuple(job_cases("/process/request/", gateway=True)),
        ),
        Endpoint(
            "gateway", "POST", "/live/video-to-video", "/live/video-to-video", _compat_cases()
        ),
        Endpoint(
            "gateway",
            "POST",
            "/process/stream/start",
            "/process/stream/start",
            _gateway_start_cases(),
        ),
        *(
            Endpoint(
                "gateway",
                method,
                f"/process/stream/{{stream_id}}/{verb}",
                f"{stream}/{verb}",
                _gateway_stream_cases(verb),
                setup="gateway-stream",
            )
            for method, verb in (
                ("POST", "update"),
                ("POST", "stop"),
                ("GET", "status"),
                ("GET", "data"),
            )
        ),
    ]
