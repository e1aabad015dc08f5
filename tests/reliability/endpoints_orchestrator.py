"""Bad requests for every route of the orchestrator (``byoc_lab/network/orchestrator*``).

Its trickle routes are in ``endpoints_trickle.py``.
"""

from __future__ import annotations

import json
from typing import Any

from .endpoints import (
    BIG_INT,
    CAPABILITY,
    JSON,
    PATHLIKE_NAMES,
    SECRET,
    Case,
    Endpoint,
    deep_json,
    encode,
    header_cases,
    huge,
    job_cases,
    json_body,
    livepeer,
)

AUTH = {"Authorization": SECRET}


def _registration(**fields: Any) -> bytes:
    body = {"name": "extra", "url": "http://127.0.0.1:9", "capacity": 1, **fields}
    return json_body({k: v for k, v in body.items() if v is not None})


def _register_cases() -> tuple[Case, ...]:
    def bad(name: str, body: bytes, *says: str) -> Case:
        return Case(name, 400, ("Error registering capability", *says), body=body, headers=AUTH)

    cases = [
        Case("no secret", 400, ("invalid authorization",), body=_registration()),
        Case(
            "wrong secret",
            400,
            ("invalid authorization",),
            body=_registration(),
            headers={"Authorization": SECRET + "x"},
        ),
        Case(
            "Bearer secret",
            400,
            ("no 'Bearer'",),
            body=_registration(),
            headers={"Authorization": f"Bearer {SECRET}"},
        ),
        bad("malformed JSON", b'{"name": ', "not valid JSON"),
        bad("a JSON array", b"[]", "JSON object"),
        bad("JSON nested too deep", b"[" * 5000, "not valid JSON"),
        bad("capacity as a string", _registration(capacity="1"), "capacity", "whole number"),
        bad("capacity 0", _registration(capacity=0), "capacity must be at least 1"),
        bad("capacity beyond int64", _registration(capacity=BIG_INT), "capacity"),
        bad("name a number", _registration(name=5), "name", "string"),
        bad("no name", _registration(name=None), "capability name"),
        bad("no url", _registration(url=None), "worker URL"),
        bad("file URL", _registration(url="file:///etc/passwd"), "worker URL"),
        bad("URL with credentials", _registration(url="http://u:p@127.0.0.1:9"), "worker URL"),
        huge("max 262144 bytes", headers=AUTH),
    ]
    cases += [bad(f"name {n!r}", _registration(name=n), "capability name") for n in PATHLIKE_NAMES]
    cases.append(
        Case(
            "an unknown field (ignored, as go-livepeer ignores it)",
            200,
            ("ok",),
            body=_registration(comment="hi"),
            headers={**AUTH, "Content-Type": "text/plain"},
            documented="go-livepeer decodes any Content-Type and ignores unknown fields",
        )
    )
    return tuple(cases)


def _unregister_cases() -> tuple[Case, ...]:
    cases = [
        Case("no secret", 400, ("invalid authorization",), body=b"tint"),
        Case(
            "wrong secret",
            400,
            ("invalid authorization",),
            body=b"tint",
            headers={"Authorization": "nope"},
        ),
        Case("invalid UTF-8", 400, ("capability name",), body=b"\xff\xfe", headers=AUTH),
        huge("max 262144 bytes", headers=AUTH),
    ]
    cases += [
        Case(f"name {n!r}", 400, ("capability name",), body=n.encode(), headers=AUTH)
        for n in PATHLIKE_NAMES
        if n.strip() == n or not n.strip()  # the body is stripped: "tint\n" names tint
    ]
    return tuple(cases)


def _token_cases() -> tuple[Case, ...]:
    def sender(value: str, *says: str, name: str) -> Case:
        headers = {"Livepeer-Eth-Address": value, "Livepeer-Capability": CAPABILITY}
        return Case(f"Livepeer-Eth-Address {name}", 400, says, headers=headers)

    good = encode(b'{"addr": "0x00", "sig": "0x00"}')
    return (
        Case("no Livepeer-Eth-Address", 400, ("Livepeer-Eth-Address",)),
        sender("%%%", "not base64", name="not base64"),
        sender(encode(b"addr=0x0"), "not valid JSON", name="not JSON"),
        sender(encode(b"[" * 5000), "not valid JSON", name="nested too deep"),
        sender(encode(b'{"addr": "0x0", "sig": "zz"}'), "not hex", name="signature not hex"),
        sender(encode(b'{"addr": 5}'), "addr", name="addr a number"),
        Case(
            "no Livepeer-Capability",
            400,
            ("Livepeer-Capability",),
            headers={"Livepeer-Eth-Address": good},
        ),
    )


def _stream_id_cases(body: bytes = b"", field: str = "id") -> list[Case]:
    cases = []
    for name in PATHLIKE_NAMES[:-1]:  # "" is a missing id, below
        overrides = {"id": name} if field == "id" else {"request": json.dumps({"stream_id": name})}
        cases.append(
            Case(
                f"stream id {name[:20]!r}",
                400,
                ("not a usable stream id",),
                body=body,
                headers={**livepeer(**overrides), **JSON},
            )
        )
    return cases


def _orchestrator_stream_cases() -> tuple[Case, ...]:
    ok = livepeer(id="os2")
    return (
        *header_cases(b"{}", JSON, parameters=True, id="os2"),
        Case(
            "no stream id",
            400,
            ("id is not a usable stream id",),
            body=b"{}",
            headers={**livepeer(), **JSON},
        ),
        *_stream_id_cases(b"{}"),
        Case(
            "parameters not JSON",
            400,
            ("parameters",),
            body=b"{}",
            headers={**livepeer(id="os2", parameters="{"), **JSON},
        ),
        Case(
            "enable_video_ingress a string",
            400,
            ("enable_video_ingress", "true or false"),
            body=b"{}",
            headers={**livepeer(id="os2", parameters='{"enable_video_ingress":"y"}'), **JSON},
        ),
        Case(
            "malformed JSON body",
            400,
            ("Invalid JSON body",),
            body=b'{"params": ',
            headers={**ok, **JSON},
        ),
        Case("JSON array body", 400, ("Invalid JSON body",), body=b"[]", headers={**ok, **JSON}),
        deep_json("Invalid JSON body", headers={**ok, **JSON}),
        Case(
            "params a string (the worker's 400)",
            400,
            ("params must be a JSON object",),
            body=b'{"params": "x"}',
            headers={**ok, **JSON},
        ),
        Case(
            "a bad processor parameter (the worker's 400)",
            400,
            ("boost", "between 0 and 255"),
            body=b'{"params": {"boost": 999}}',
            headers={**ok, **JSON},
        ),
        Case(
            "text/plain body (the worker's 400)",
            400,
            ("Content-Type: application/json",),
            body=b"{}",
            headers={**ok, "Content-Type": "text/plain"},
        ),
        huge("262144", headers={**ok, **JSON}),
    )


def _known_stream_cases(*, update: bool) -> tuple[Case, ...]:
    ok = livepeer(request=json.dumps({"stream_id": "os1"}))
    cases = [
        *header_cases(b"{}", JSON)[:7],
        *_stream_id_cases(b"{}", field="request"),
        Case(
            "a stream that does not run",
            404,
            ("not running",),
            body=b"{}",
            headers={**livepeer(request='{"stream_id": "nope"}'), **JSON},
        ),
        huge("262144", headers={**ok, **JSON}),
    ]
    if update:
        cases += [
            Case(
                "malformed JSON (the worker's 400)",
                400,
                ("not valid JSON",),
                body=b'{"a": ',
                headers={**ok, **JSON},
            ),
            deep_json(headers={**ok, **JSON}),
            Case(
                "a parameter too large (the worker's 400)",
                400,
                ("boost",),
                body=json_body({"boost": BIG_INT}),
                headers={**ok, **JSON},
            ),
        ]
    return tuple(cases)


def orchestrator_endpoints() -> list[Endpoint]:
    """The orchestrator's own routes (its trickle routes are in ``endpoints_trickle``)."""
    return [
        Endpoint(
            "orchestrator",
            "POST",
            "/capability/register",
            "/capability/register",
            _register_cases(),
        ),
        Endpoint(
            "orchestrator",
            "POST",
            "/capability/unregister",
            "/capability/unregister",
            _unregister_cases(),
        ),
        Endpoint("orchestrator", "GET", "/process/token", "/process/token", _token_cases()),
        Endpoint(
            "orchestrator",
            "POST",
            "/process/request/{path}",
            "/process/request/x",
            tuple(job_cases("/process/request/", gateway=False)),
        ),
        Endpoint(
            "orchestrator",
            "POST",
            "/ai/stream/start",
            "/ai/stream/start",
            _orchestrator_stream_cases(),
        ),
        Endpoint(
            "orchestrator",
            "POST",
            "/ai/stream/update",
            "/ai/stream/update",
            _known_stream_cases(update=True),
            setup="orchestrator-stream",
        ),
        Endpoint(
            "orchestrator",
            "POST",
            "/ai/stream/stop",
            "/ai/stream/stop",
            _known_stream_cases(update=False),
            setup="orchestrator-stream",
        ),
        Endpoint(
            "orchestrator", "POST", "/ai/stream/payment", "/ai/stream/payment", header_cases()
        ),
    ]
