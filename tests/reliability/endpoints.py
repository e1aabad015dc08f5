"""The bad-input table: every HTTP route of every byoc_lab server, and what to send it.

An :class:`Endpoint` is one route of one service (``worker``, ``orchestrator``,
``gateway`` or the standalone ``trickle`` server), named as aiohttp's router names it;
its :class:`Case` s are bad requests with the status and the words the answer must
carry. ``test_bad_input_http.py`` sends every case to a real server on 127.0.0.1 and
checks that the service then still serves a good request; a route added to an app
without an entry here fails its coverage test.

The tables themselves live in ``endpoints_worker.py``, ``endpoints_orchestrator.py``,
``endpoints_gateway.py`` and ``endpoints_trickle.py``; this module holds the shapes
and the shared bad inputs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from byoc_lab.builtins import GreenTint
from byoc_lab.network import Gateway, Orchestrator, OrchestratorConfig
from byoc_lab.network.livepeer_header import DUMMY_SIG
from byoc_lab.trickle import TrickleServer
from byoc_lab.worker.app import create_worker_app
from byoc_lab.worker.core import WorkerCore

Service = Literal["worker", "orchestrator", "gateway", "trickle"]
Setup = Literal["worker-stream", "orchestrator-stream", "gateway-stream", "channel"]

CAPABILITY = "tint"
SECRET = "bad-input-orchestrator-secret"
LIMIT = 256 * 1024
"""Every service under test runs with this body (and trickle segment) limit."""
FRAME_SIZE = (64, 48)
FRAME = bytes(FRAME_SIZE[0] * FRAME_SIZE[1] * 3)
JSON = {"Content-Type": "application/json"}
RAW = {"Content-Type": "application/octet-stream"}

DEEP = b"[" * 5000 + b"]" * 5000
"""Valid JSON nested deeper than Python's recursion limit."""
HUGE_INT = b"1" + b"0" * 5000
"""An integer literal longer than Python's 4300-digit conversion limit."""
BIG_INT = 10**400
"""An integer JSON parses, but too large for a float."""
PATHLIKE_NAMES = ("../x", "a/b", "a\\b", "a\x00b", "x" * 300, "tint\n", "")
"""Names that must never become a capability, stream or channel name."""
PATHLIKE_SEGMENTS = ("..", "%2E%2E", "a%2Fb", "a%00b", "a%5Cb", "x" * 200, "_changes")
"""Raw (still encoded) path segments that must never name a channel or a stream."""


@dataclass(frozen=True)
class Case:
    """One bad request and what its answer must be.

    Attributes:
        name: what is wrong with it, for the test report.
        status: the status it must get (a 4xx, or a documented other status).
        says: words the answer's body must contain (case-insensitive).
        path: the raw path to send (None: the endpoint's example path).
        body: the request body.
        headers: request headers (no Content-Type unless given).
        chunked: send the body with chunked transfer encoding (no Content-Length).
        setup: what must run first (None: the endpoint's setup).
        documented: why a status outside 4xx is right, when it is.
    """

    name: str
    status: int
    says: tuple[str, ...] = ()
    path: str | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    chunked: bool = False
    setup: Setup | None = None
    documented: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One route of one service, and the bad requests it must refuse."""

    service: Service
    method: str
    route: str
    path: str
    cases: tuple[Case, ...]
    setup: Setup | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """``(service, method, route)``, as :func:`served_routes` lists them."""
        return (self.service, self.method, self.route)

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.route}"


def served_routes() -> set[tuple[str, str, str]]:
    """Every ``(service, method, route)`` the four apps serve (HEAD is GET's twin)."""
    apps: dict[str, web.Application] = {
        "worker": create_worker_app(WorkerCore(GreenTint())),
        "orchestrator": Orchestrator(OrchestratorConfig(secret=SECRET)).make_app(),
        "gateway": Gateway().make_app(),
        "trickle": TrickleServer().make_app(),
    }
    return {
        (service, route.method, route.resource.canonical)
        for service, app in apps.items()
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


# -- Livepeer headers -----------------------------------------------------------------


def job_fields(**overrides: Any) -> dict[str, Any]:
    """A valid, signed JobRequest as a dict, with ``overrides`` applied (None removes)."""
    fields: dict[str, Any] = {
        "id": "",
        "request": "{}",
        "parameters": "{}",
        "capability": CAPABILITY,
        "sender": "0x" + "0" * 40,
        "sig": DUMMY_SIG,
        "timeout_seconds": 10,
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def livepeer(**overrides: Any) -> dict[str, str]:
    """A ``Livepeer`` header holding :func:`job_fields`."""
    return {"Livepeer": encode(json.dumps(job_fields(**overrides)).encode())}


def encode(raw: bytes) -> str:
    """Standard base64 of ``raw``."""
    return base64.b64encode(raw).decode("ascii")


def header_cases(
    body: bytes = b"",
    extra: Mapping[str, str] | None = None,
    *,
    parameters: bool = False,
    **base: Any,
) -> tuple[Case, ...]:
    """Bad ``Livepeer`` headers every job and stream route refuses with a 400.

    ``parameters``: the route decodes the header's ``parameters`` (gateway routes and
    the orchestrator's stream start; go-livepeer's orchestrator ignores them otherwise).
    ``base``: fields every case's header has unless the case changes them (e.g. ``id``).
    """
    more = dict(extra or {})

    def case(name: str, header: str | None, *says: str) -> Case:
        headers = dict(more)
        if header is not None:
            headers["Livepeer"] = header
        return Case(f"Livepeer header: {name}", 400, says, body=body, headers=headers)

    def fields(name: str, *says: str, **overrides: Any) -> Case:
        fields = job_fields(**{**base, **overrides})
        return case(name, encode(json.dumps(fields).encode()), *says)

    cases = [
        case("missing", None, "Livepeer header is missing"),
        case("not base64", "!!not*base64!!", "not valid base64"),
        case("URL-safe base64", urlsafe(job_fields(id="??>>??")), "not valid base64"),
        case("base64 of text", encode(b"capability=tint"), "not valid JSON"),
        case("base64 of invalid UTF-8", encode(b"\xff\xfe{}"), "not valid JSON"),
        case("a JSON array", encode(b'["tint", 30]'), "must be a JSON object"),
        case("nested too deep", encode(b"[" * 3000), "not valid JSON"),
        case("over aiohttp's 8190-byte header limit", "A" * 9000, "more than 8190 bytes"),
        fields("timeout as a string", "timeout_seconds", "whole number", timeout_seconds="30"),
        fields("no timeout", "timeout_seconds is required", timeout_seconds=None),
        fields("negative timeout", "timeout_seconds must be positive", timeout_seconds=-1),
        fields("capability as a number", "capability", "string", capability=5),
        fields("request not JSON", "request", request="not json"),
    ]
    if parameters:
        cases.append(fields("parameters a JSON array", "parameters", parameters="[1]"))
    cases += [
        fields(f"capability {name!r}", "capability", capability=name) for name in PATHLIKE_NAMES
    ]
    return tuple(cases)


def urlsafe(fields: Mapping[str, Any]) -> str:
    """URL-safe base64 of ``fields`` as JSON (holding ``-`` or ``_``, which Go refuses)."""
    text = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode("ascii")
    assert "-" in text or "_" in text, text
    return text


def huge(body_says: str = str(LIMIT), **kwargs: Any) -> Case:
    """A body one byte over :data:`LIMIT`: 413 naming the limit."""
    return Case("body over the limit", 413, (body_says,), body=b"x" * (LIMIT + 1), **kwargs)


def deep_json(*says: str, **kwargs: Any) -> Case:
    """JSON nested 5000 deep: a 400, never a RecursionError."""
    return Case("JSON nested too deep", 400, says or ("not valid JSON",), body=DEEP, **kwargs)


def json_body(value: Any) -> bytes:
    """``value`` as a JSON body (``BIG_INT`` and such allowed)."""
    return json.dumps(value).encode()


def _paths(prefix: str, body: bytes) -> list[Case]:
    raw = ("..%2Fx", "a%2Fb", "a%00b", "%2e%2e/x", "a/../b", "a\\b", "x" * 1100)
    return [
        Case(
            f"path {p[:20]!r}",
            400,
            ("cannot be forwarded",),
            path=prefix + p,
            body=body,
            headers={**livepeer(), **RAW},
        )
        for p in raw
    ]


def job_cases(prefix: str, *, gateway: bool) -> list[Case]:
    """What both batch routes (orchestrator and gateway) refuse."""
    return [
        *header_cases(FRAME, RAW, parameters=gateway),
        *_paths(prefix, FRAME),
        huge("262144", headers={**livepeer(), **RAW}),
        Case(
            "JSON body for a raw worker",
            415,
            ("Content-Type", "image/png"),
            body=b"{}",
            headers={**livepeer(), **JSON},
        ),
        Case(
            "raw frame of the wrong size",
            400,
            ("64x48",),
            body=b"x" * 10,
            headers={**livepeer(), **RAW},
        ),
        Case(
            "unknown header fields (ignored, as go-livepeer ignores them)",
            200,
            body=FRAME,
            headers={**livepeer(extra="x", Timeout_Seconds=10), **RAW},
            documented="go-livepeer's JSON decoding ignores unknown fields",
        ),
    ]
