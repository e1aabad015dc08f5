"""The ``Livepeer`` job header: base64 of a JSON ``JobRequest``, built and parsed.

Every BYOC call from a client to a gateway, and from a gateway to an orchestrator,
carries ``Livepeer: base64(JSON)`` where the JSON is go-livepeer's ``JobRequest``
(``byoc/types.go``)::

    {"id": "", "request": "{}", "parameters": "{}", "capability": "green-tint",
     "capability_url": "", "sender": "", "sig": "", "timeout_seconds": 30}

go-livepeer's rules, which :func:`parse_job_header` applies (``byoc/utils.go``
``parseJobRequest`` and ``byoc/job_gateway.go`` ``setupGatewayJob``):

- standard base64 with ``=`` padding (line breaks ignored); then a JSON object,
  decoded with Go's rules (see :mod:`byoc_lab.network.gojson`);
- ``timeout_seconds`` is required: 0 or missing is a 400. go-livepeer lets a negative
  value through; byoc_lab requires it to be positive;
- ``request`` and ``parameters`` are JSON **strings holding JSON**: the gateway decodes
  ``request`` into ``{"stream_id": …}`` and ``parameters`` into :class:`JobParameters`,
  so both must be JSON objects, ``"{}"`` at least (``""`` is a 400). The orchestrator
  decodes ``request`` always and ``parameters`` only to start a stream; so does
  byoc_lab, via :meth:`JobRequest.stream_id` and :meth:`JobRequest.job_parameters`.

Signing: a gateway overwrites ``sender`` and ``sig`` with its Ethereum address and a
signature of ``request + parameters``, and the orchestrator checks it. Offchain,
go-livepeer's orchestrator accepts *any* signature that decodes as hex; but it strips
the ``0x`` prefix only from signatures longer than 130 characters, so the bare ``"0x"``
a go-livepeer offchain gateway sends fails to decode there (wire doc, "offchain
caveat"). byoc_lab signs with :data:`DUMMY_SIG`, ``"0x"`` and 65 zero bytes, which every
offchain orchestrator accepts; and its own orchestrator strips ``0x`` whatever the
length, so it also accepts go-livepeer's ``"0x"`` (a deliberate fix).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from byoc_lab.errors import ParamError, RequestError
from byoc_lab.network.gojson import (
    dumps,
    get_bool,
    get_int,
    get_string,
    get_string_list,
    load_struct,
)

__all__ = [
    "DUMMY_SIG",
    "LIVEPEER_HEADER",
    "ZERO_ADDRESS",
    "JobParameters",
    "JobRequest",
    "JobSender",
    "OrchestratorFilter",
    "build_job_header",
    "decode_signature",
    "parse_job_header",
]

LIVEPEER_HEADER: Final = "Livepeer"
"""The header carrying the base64 JSON ``JobRequest``."""

DUMMY_SIG: Final = "0x" + "00" * 65
"""An offchain signature: well-formed hex of an Ethereum signature's length (65 bytes)."""

ZERO_ADDRESS: Final = "0x" + "0" * 40
"""The sender address byoc_lab's gateway claims offchain."""

_REQUEST_FIELDS: Final = (
    "id",
    "request",
    "parameters",
    "capability",
    "capability_url",
    "sender",
    "sig",
    "timeout_seconds",
    "orchsearchtimeout",  # untagged time.Duration fields: Go decodes them by name
    "orchsearchresptimeout",
)
_HEADER_WHAT: Final = "the Livepeer header"
_MAX_HEADER_CHARS: Final = 64 * 1024
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, kw_only=True)
class OrchestratorFilter:
    """``JobParameters.orchestrators``: which orchestrator URLs a gateway may use.

    URLs compare as exact strings against the gateway's orchestrator list (go-livepeer
    compares ``url.String()``, e.g. ``https://127.0.0.1:8936``).
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def allows(self, url: str) -> bool:
        """Whether ``url`` passes: not excluded, and included if an include list is set."""
        if url in self.exclude:
            return False
        return not self.include or url in self.include


@dataclass(frozen=True, kw_only=True)
class JobParameters:
    """go-livepeer's ``JobParameters``: orchestrator choice and a stream's channels.

    ``enable_video_ingress`` creates the input channel ``{id}``, ``enable_video_egress``
    the output ``{id}-out``, ``enable_data_output`` the data channel ``{id}-data``;
    ``{id}-control`` and ``{id}-events`` always exist.
    """

    orchestrators: OrchestratorFilter = field(default_factory=OrchestratorFilter)
    enable_video_ingress: bool = False
    enable_video_egress: bool = False
    enable_data_output: bool = False

    def to_json(self) -> str:
        """The JSON string for ``JobRequest.parameters``, with Go's ``omitempty``."""
        out: dict[str, Any] = {}
        filters: dict[str, Any] = {}
        if self.orchestrators.exclude:
            filters["exclude"] = list(self.orchestrators.exclude)
        if self.orchestrators.include:
            filters["include"] = list(self.orchestrators.include)
        out["orchestrators"] = filters  # a struct, so Go's omitempty never drops it
        for name in ("enable_video_ingress", "enable_video_egress", "enable_data_output"):
            if getattr(self, name):
                out[name] = True
        return dumps(out)

    @classmethod
    def parse(cls, text: str) -> JobParameters:
        """Decode ``JobRequest.parameters`` by go-livepeer's rules.

        Raises:
            RequestError: 400 naming ``parameters`` (or the field inside it) when the
                string is empty, not JSON, not an object, or has a field of the wrong type.
        """
        what = "the job's parameters"
        if not text:
            raise RequestError(
                "parameters is empty: go-livepeer decodes it as JSON and fails with "
                "'unexpected end of JSON input'",
                field="parameters",
                expected='a JSON string holding a JSON object, at least "{}"',
                got='""',
                fix='send "parameters": "{}" in the Livepeer header',
            )
        data = load_struct(
            text,
            ("orchestrators", "enable_video_ingress", "enable_video_egress", "enable_data_output"),
            what=what,
            field="parameters",
        )
        filters = OrchestratorFilter()
        if "orchestrators" in data:
            raw = data["orchestrators"]
            if not isinstance(raw, dict):
                raise RequestError(
                    "orchestrators in the job's parameters must be an object",
                    field="orchestrators",
                    expected='{"include": [url, …], "exclude": [url, …]}',
                    got=json.dumps(raw)[:40],
                )
            inner = load_struct(json.dumps(raw), ("include", "exclude"), what="orchestrators")
            filters = OrchestratorFilter(
                include=get_string_list(inner, "include", what="orchestrators"),
                exclude=get_string_list(inner, "exclude", what="orchestrators"),
            )
        return cls(
            orchestrators=filters,
            enable_video_ingress=get_bool(data, "enable_video_ingress", what=what),
            enable_video_egress=get_bool(data, "enable_video_egress", what=what),
            enable_data_output=get_bool(data, "enable_data_output", what=what),
        )


@dataclass(frozen=True, kw_only=True)
class JobRequest:
    """go-livepeer's ``JobRequest``, the content of the ``Livepeer`` header.

    Attributes:
        capability: the registered capability name the job is for.
        timeout_seconds: how long the orchestrator waits for the worker (required, > 0).
        request: a JSON string; ``{"stream_id": …}`` for stream calls, else ``"{}"``.
        parameters: a JSON string holding :class:`JobParameters`.
        id: the job id; for a stream, the stream id (the orchestrator names the
            stream's trickle channels after it).
        capability_url: set by the orchestrator from its registry (ignored on input).
        sender: the gateway's Ethereum address (set when signing).
        sig: the gateway's signature of ``request + parameters`` (set when signing).
    """

    capability: str
    timeout_seconds: int
    request: str = "{}"
    parameters: str = "{}"
    id: str = ""
    capability_url: str = ""
    sender: str = ""
    sig: str = ""

    def to_json(self) -> str:
        """The JSON document, fields in go-livepeer's struct order."""
        return dumps(
            {
                "id": self.id,
                "request": self.request,
                "parameters": self.parameters,
                "capability": self.capability,
                "capability_url": self.capability_url,
                "sender": self.sender,
                "sig": self.sig,
                "timeout_seconds": self.timeout_seconds,
            }
        )

    def encode(self) -> str:
        """The header value: standard base64 of :meth:`to_json`."""
        return base64.b64encode(self.to_json().encode()).decode("ascii")

    def signed(self, *, sender: str = ZERO_ADDRESS, sig: str = DUMMY_SIG) -> JobRequest:
        """A copy carrying a gateway's ``sender`` and ``sig`` (offchain: dummy ones)."""
        return replace(self, sender=sender, sig=sig)

    def stream_id(self) -> str:
        """``stream_id`` from the ``request`` string ("" when absent).

        Raises:
            RequestError: 400 naming ``request`` when it is not a JSON object.
        """
        if not self.request:
            raise RequestError(
                "request is empty: go-livepeer decodes it as JSON and fails with "
                "'unexpected end of JSON input'",
                field="request",
                expected='a JSON string holding a JSON object, at least "{}"',
                got='""',
                fix='send "request": "{}" in the Livepeer header',
            )
        data = load_struct(self.request, ("stream_id",), what="the job's request", field="request")
        return get_string(data, "stream_id", what="the job's request")

    def job_parameters(self) -> JobParameters:
        """The decoded ``parameters`` (see :meth:`JobParameters.parse`)."""
        return JobParameters.parse(self.parameters)


def build_job_header(
    capability: str,
    *,
    timeout_seconds: int = 30,
    request: str | Mapping[str, Any] | None = None,
    parameters: JobParameters | str | Mapping[str, Any] | None = None,
    stream_id: str | None = None,
    job_id: str = "",
) -> str:
    """Build a ``Livepeer`` header value that go-livepeer's gateway accepts.

    Args:
        capability: the capability to run.
        timeout_seconds: seconds the orchestrator waits for the worker; must be > 0.
        request: the request object (a mapping or its JSON text); ``{}`` when omitted,
            or ``{"stream_id": stream_id}`` when ``stream_id`` is given.
        parameters: :class:`JobParameters`, a mapping or JSON text; ``{}`` when omitted.
        stream_id: the stream a stream update addresses (sets ``request``).
        job_id: the ``id`` field (a gateway sets it; clients leave it empty).

    Raises:
        ParamError: an empty capability, a timeout that is not a positive whole number,
            or ``request``/``parameters`` text that is not a JSON object.
    """
    if not capability:
        raise ParamError("a job needs a capability name", fix="pass capability='green-tint'")
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, int):
        raise ParamError("timeout_seconds must be a whole number", got=repr(timeout_seconds))
    if timeout_seconds <= 0:
        raise ParamError("timeout_seconds must be positive", got=str(timeout_seconds))
    if request is None:
        request = {"stream_id": stream_id} if stream_id is not None else {}
    if isinstance(parameters, JobParameters):
        parameters = parameters.to_json()
    job = JobRequest(
        capability=capability,
        timeout_seconds=timeout_seconds,
        request=_json_text(request, "request"),
        parameters=_json_text(parameters if parameters is not None else {}, "parameters"),
        id=job_id,
    )
    return job.encode()


def _json_text(value: str | Mapping[str, Any], name: str) -> str:
    if not isinstance(value, str):
        return dumps(dict(value))
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise ParamError(f"{name} is not valid JSON ({exc})", got=repr(value[:40])) from exc
    if decoded is not None and not isinstance(decoded, dict):
        raise ParamError(f"{name} must hold a JSON object", got=repr(value[:40]))
    return value


def parse_job_header(value: str | None) -> JobRequest:
    """Decode a ``Livepeer`` header by go-livepeer's rules (see the module docstring).

    Only the header's own shape is checked here; :meth:`JobRequest.stream_id` and
    :meth:`JobRequest.job_parameters` decode the two embedded JSON strings, because
    go-livepeer's gateway and orchestrator decode them at different points.

    Raises:
        RequestError: 400 naming ``Livepeer`` (missing, not base64, not JSON, not an
            object) or the field at fault (``timeout_seconds``, ``capability``, …).
    """
    if value is None:
        raise RequestError(
            "the Livepeer header is missing",
            field=LIVEPEER_HEADER,
            expected="Livepeer: base64 of a JSON JobRequest",
            fix="build it with byoc_lab.network.build_job_header(capability)",
        )
    if len(value) > _MAX_HEADER_CHARS:
        raise RequestError(
            "the Livepeer header is too long",
            field=LIVEPEER_HEADER,
            expected=f"at most {_MAX_HEADER_CHARS} characters",
            got=f"{len(value)}",
        )
    compact = value.strip().replace("\r", "").replace("\n", "")  # Go's StdEncoding skips these
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(
            "the Livepeer header is not valid base64 (go-livepeer: ErrorSegEncoding)",
            field=LIVEPEER_HEADER,
            expected="standard base64 with = padding (not URL-safe) of a JSON JobRequest",
            got=repr(value[:40]),
        ) from exc
    data = load_struct(raw, _REQUEST_FIELDS, what=_HEADER_WHAT, field=LIVEPEER_HEADER)
    for key in ("orchsearchtimeout", "orchsearchresptimeout"):
        get_int(data, key, what=_HEADER_WHAT)
    strings = {
        key: get_string(data, key, what=_HEADER_WHAT)
        for key in ("id", "request", "parameters", "capability", "capability_url", "sender", "sig")
    }
    timeout = get_int(data, "timeout_seconds", what=_HEADER_WHAT)
    if timeout == 0:
        raise RequestError(
            "no timeout_seconds set with request, timeout_seconds is required",
            field="timeout_seconds",
            expected="a positive whole number of seconds, e.g. 30",
            got="0 or nothing",
        )
    if timeout < 0:
        raise RequestError(
            "timeout_seconds must be positive",
            field="timeout_seconds",
            expected="a positive whole number of seconds, e.g. 30",
            got=str(timeout),
        )
    return JobRequest(timeout_seconds=timeout, **strings)


def decode_signature(sig: str, *, field: str = "sig") -> bytes:
    """The bytes of a hex signature, with or without ``0x`` (empty is allowed offchain).

    Raises:
        RequestError: 400 when the signature is not hex.
    """
    digits = sig[2:] if sig[:2] in ("0x", "0X") else sig
    if len(digits) % 2 or not set(digits) <= _HEX_DIGITS:
        raise RequestError(
            "Could not verify job creds: the signature is not hex",
            field=field,
            expected="an even number of hex digits, optionally after 0x (offchain, any "
            "such value is accepted)",
            got=repr(sig[:20]),
        )
    return bytes.fromhex(digits)


@dataclass(frozen=True)
class JobSender:
    """go-livepeer's ``JobSender``, sent base64-encoded in ``Livepeer-Eth-Address``.

    A gateway proves its address when asking ``/process/token``; offchain the address
    is :data:`ZERO_ADDRESS` and the signature :data:`DUMMY_SIG`.
    """

    addr: str = ZERO_ADDRESS
    sig: str = DUMMY_SIG

    def encode(self) -> str:
        """The header value: base64 of ``{"addr": …, "sig": …}``."""
        return base64.b64encode(dumps({"addr": self.addr, "sig": self.sig}).encode()).decode()

    @classmethod
    def parse(cls, value: str) -> JobSender:
        """Decode a ``Livepeer-Eth-Address`` header and check its signature is hex.

        Raises:
            RequestError: 400 "Invalid eth address header" naming what was wrong.
        """
        field = "Livepeer-Eth-Address"
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RequestError(
                "Invalid eth address header: not base64",
                field=field,
                expected='base64 of {"addr": "0x…", "sig": "0x…"}',
                got=repr(value[:40]),
            ) from exc
        data = load_struct(raw, ("addr", "sig"), what="the Livepeer-Eth-Address header")
        sender = cls(
            addr=get_string(data, "addr", what=field), sig=get_string(data, "sig", what=field)
        )
        decode_signature(sender.sig, field=field)
        return sender
