"""BYOC wire names and shapes shared by byoc_lab's orchestrator and gateway.

Header names, the token an orchestrator hands a gateway (``JobToken``), the names of
a stream's five trickle channels, and the validators that every capability name,
stream id and worker path passes before it touches a URL, a channel or a log line.
Names and JSON shapes are go-livepeer's (``byoc/types.go``).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from byoc_lab.errors import RegistrationError, RequestError
from byoc_lab.network.gojson import dumps, get_int, get_string, load_struct
from byoc_lab.network.livepeer_header import JobSender
from byoc_lab.worker.registration import validate_capability_name

__all__ = [
    "BALANCE_ZERO",
    "HEADER_BALANCE",
    "HEADER_CAPABILITY",
    "HEADER_CONTROL_URL",
    "HEADER_DATA_URL",
    "HEADER_ETH_ADDRESS",
    "HEADER_EVENTS_URL",
    "HEADER_METADATA",
    "HEADER_MODEL_ID",
    "HEADER_ORCHESTRATOR_URL",
    "HEADER_ORCH_SEARCH_RESP_TIMEOUT",
    "HEADER_ORCH_SEARCH_TIMEOUT",
    "HEADER_PAYMENT_BALANCE",
    "HEADER_PUBLISH_URL",
    "HEADER_STREAM_ID",
    "HEADER_SUBSCRIBE_URL",
    "SSE_CONTENT_TYPE",
    "STREAM_ID_MAX",
    "TRICKLE_BASE_PATH",
    "JobToken",
    "StreamChannels",
    "check_capability",
    "check_stream_id",
    "check_worker_path",
    "random_stream_id",
]

HEADER_CAPABILITY: Final = "Livepeer-Capability"
"""On ``GET /process/token``: the capability the gateway wants a token for."""
HEADER_ETH_ADDRESS: Final = "Livepeer-Eth-Address"
"""On ``GET /process/token``: base64 JSON :class:`JobSender`."""
HEADER_BALANCE: Final = "Livepeer-Balance"
"""The sender's balance with the orchestrator (always ``0`` offchain)."""
HEADER_PAYMENT_BALANCE: Final = "Livepeer-Payment-Balance"
"""What go-livepeer's orchestrator sends instead of Livepeer-Balance on SSE answers."""
HEADER_METADATA: Final = "X-Metadata"
"""Worker metadata about a batch result, passed back to the client untouched."""
HEADER_ORCHESTRATOR_URL: Final = "X-Orchestrator-Url"
"""On a gateway's batch answer: the orchestrator that ran the job."""
HEADER_STREAM_ID: Final = "X-Stream-Id"
"""On orchestrator → worker ``/stream/*`` calls: the stream id."""
HEADER_PUBLISH_URL: Final = "X-Publish-Url"
"""Stream start answer: the input channel ``{id}`` (the gateway publishes there)."""
HEADER_SUBSCRIBE_URL: Final = "X-Subscribe-Url"
"""Stream start answer: the output channel ``{id}-out`` (the gateway subscribes)."""
HEADER_CONTROL_URL: Final = "X-Control-Url"
"""Stream start answer: the control channel ``{id}-control``."""
HEADER_EVENTS_URL: Final = "X-Events-Url"
"""Stream start answer: the events channel ``{id}-events``."""
HEADER_DATA_URL: Final = "X-Data-Url"
"""Stream start answer: the data channel ``{id}-data``."""
HEADER_MODEL_ID: Final = "X-Model-Id"
"""The seed quickstart's (invented) capability header on ``/live/video-to-video``."""
HEADER_ORCH_SEARCH_TIMEOUT: Final = "Livepeer-Orch-Search-Timeout"
"""Client → gateway: a Go duration bounding the whole orchestrator search."""
HEADER_ORCH_SEARCH_RESP_TIMEOUT: Final = "Livepeer-Orch-Search-Resp-Timeout"
"""Client → gateway: a Go duration bounding each ``/process/token`` answer."""

TRICKLE_BASE_PATH: Final = "/ai/trickle/"
"""Where an orchestrator serves its trickle channels (go-livepeer's TrickleHTTPPath)."""
SSE_CONTENT_TYPE: Final = "text/event-stream"
BALANCE_ZERO: Final = "0"
"""Every balance offchain, where the price is 0."""

STREAM_ID_MAX: Final = 120
"""Longest stream id: ``{id}-control`` must stay within a channel name's 128 characters."""

_STREAM_ID_RE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{STREAM_ID_MAX - 1}}}")
_PATH_SEGMENT_RE: Final = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_FORBIDDEN_ESCAPES: Final = ("%2f", "%5c", "%00", "%2e")
_WORKER_PATH_MAX: Final = 1024


def check_stream_id(value: str, *, field: str = "stream_id") -> str:
    """Return ``value`` if it can name a stream (and its ``{id}-…`` trickle channels).

    1-120 characters of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit, no ``..``.

    Raises:
        RequestError: 400 naming ``field``.
    """
    if _STREAM_ID_RE.fullmatch(value) is None or ".." in value:
        raise RequestError(
            f"{field} is not a usable stream id",
            field=field,
            expected=f"1-{STREAM_ID_MAX} characters of A-Z a-z 0-9 . _ - starting with a "
            "letter or digit, without '..'",
            got=repr(value[: STREAM_ID_MAX + 8]),
        )
    return value


def random_stream_id() -> str:
    """Eight random hex characters, as go-livepeer's ``RandomManifestID``."""
    return secrets.token_hex(4)


def check_capability(name: str, *, field: str = "capability") -> str:
    """Return ``name`` if it is a usable capability name (see ``validate_capability_name``).

    Raises:
        RequestError: 400 naming ``field``.
    """
    try:
        return validate_capability_name(name)
    except RegistrationError as exc:
        raise RequestError(
            f"{field} is not a usable capability name",
            field=field,
            expected=exc.expected,
            got=exc.got,
        ) from exc


def check_worker_path(raw: str) -> str:
    """Return the still-encoded path after ``/process/request/`` if it is safe to forward.

    Segments of URL path characters and ``%XX`` escapes, at most 1024 characters; no
    ``.`` or ``..`` segment and no escaped slash, backslash, NUL or dot, so the path can
    never leave the worker's URL. An empty path is allowed (the worker's root).

    Raises:
        RequestError: 400 naming the path.
    """
    bad = (
        len(raw) > _WORKER_PATH_MAX
        or any(escape in raw.lower() for escape in _FORBIDDEN_ESCAPES)
        or any(
            segment in (".", "..") or _PATH_SEGMENT_RE.fullmatch(segment) is None
            for segment in raw.split("/")
        )
    )
    if raw and bad:
        raise RequestError(
            "the job path cannot be forwarded to a worker",
            field="path",
            expected=f"at most {_WORKER_PATH_MAX} characters of URL path segments, "
            "without '.', '..' or escaped '/', '\\', '.' or NUL",
            got=repr(raw[:80]),
        )
    return raw


@dataclass(frozen=True)
class StreamChannels:
    """The trickle channel names of stream ``stream_id`` (go-livepeer's naming)."""

    stream_id: str

    @property
    def ingress(self) -> str:
        """``{id}``: video in; the gateway publishes, the worker subscribes."""
        return self.stream_id

    @property
    def egress(self) -> str:
        """``{id}-out``: video out; the worker publishes, the gateway subscribes."""
        return f"{self.stream_id}-out"

    @property
    def control(self) -> str:
        """``{id}-control``: JSON control messages to the worker (always present)."""
        return f"{self.stream_id}-control"

    @property
    def events(self) -> str:
        """``{id}-events``: JSON events from the worker (always present)."""
        return f"{self.stream_id}-events"

    @property
    def data(self) -> str:
        """``{id}-data``: JSONL data from the worker."""
        return f"{self.stream_id}-data"

    def all(self) -> tuple[str, ...]:
        """All five names: ingress, egress, control, events, data."""
        return (self.ingress, self.egress, self.control, self.events, self.data)


@dataclass(frozen=True, kw_only=True)
class JobToken:
    """go-livepeer's ``JobToken``: an orchestrator's answer to ``GET /process/token``.

    Attributes:
        service_addr: the orchestrator's base URL; the gateway sends jobs there.
        available_capacity: free slots for the capability; 0 (absent in JSON) when full
            or not offered, and then the gateway skips the orchestrator.
        price_per_unit: wei per unit (0 offchain).
        pixels_per_unit: the price's denominator (1 offchain).
        balance: the sender's balance (0 offchain; absent in JSON).
        sender: the :class:`JobSender` the gateway presented, echoed back.
    """

    service_addr: str
    available_capacity: int = 0
    price_per_unit: int = 0
    pixels_per_unit: int = 1
    balance: int = 0
    sender: JobSender | None = None

    def to_json(self) -> str:
        """The JSON go-livepeer writes: struct field order, ``omitempty`` as in Go."""
        out: dict[str, Any] = {}
        if self.sender is not None:
            out["sender_address"] = {"addr": self.sender.addr, "sig": self.sender.sig}
        if self.balance:
            out["balance"] = self.balance
        price: dict[str, int] = {}
        if self.price_per_unit:
            price["pricePerUnit"] = self.price_per_unit
        if self.pixels_per_unit:
            price["pixelsPerUnit"] = self.pixels_per_unit
        out["price"] = price
        if self.service_addr:
            out["service_addr"] = self.service_addr
        if self.available_capacity:
            out["available_capacity"] = self.available_capacity
        out["LastNonce"] = 0
        return dumps(out) + "\n"  # Go's json.Encoder ends with a newline

    @classmethod
    def parse(cls, body: bytes) -> JobToken:
        """Decode an orchestrator's token answer.

        Raises:
            RequestError: the body is not a JSON token (status 502: a bad upstream).
        """
        what = "the orchestrator's /process/token answer"
        try:
            data = load_struct(
                body, ("service_addr", "available_capacity", "balance", "price"), what=what
            )
            price = data.get("price", {})
            price_data = (
                load_struct(json.dumps(price), ("priceperunit", "pixelsperunit"), what="price")
                if isinstance(price, dict)
                else {}
            )
            return cls(
                service_addr=get_string(data, "service_addr", what=what).rstrip("/"),
                available_capacity=get_int(data, "available_capacity", what=what),
                balance=get_int(data, "balance", what=what),
                price_per_unit=get_int(price_data, "priceperunit", what="price"),
                pixels_per_unit=get_int(price_data, "pixelsperunit", what="price"),
            )
        except RequestError as exc:
            raise RequestError(f"bad token: {exc}", status=502) from exc
