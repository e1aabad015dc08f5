"""An orchestrator's registry of worker capabilities and the capacity each has in use.

A worker registers ``ExternalCapability`` JSON (go-livepeer ``core/external_capabilities.go``):
``{name, url, capacity, price_per_unit, price_scaling, currency, description, token}``.
Registering a name again replaces its settings. Load (jobs and streams in progress)
is counted per name, so it survives re-registration: go-livepeer resets it to 0 then,
and the jobs still running later drive it negative. Reserving checks capacity (go-
livepeer's ``ReserveExternalCapabilityCapacity`` does not; only the gateway's token
check limits load there); a reservation beyond capacity is a 503, never a queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from byoc_lab.errors import RegistrationError, RequestError
from byoc_lab.network.gojson import get_int, get_string, load_struct
from byoc_lab.worker.registration import validate_capability_name

__all__ = ["Capability", "CapabilityInfo", "CapabilityRegistry"]

_FIELDS = (
    "name",
    "description",
    "url",
    "capacity",
    "price_per_unit",
    "price_scaling",
    "currency",
    "token",
)
_MAX_TEXT = 1024


@dataclass(frozen=True, kw_only=True)
class Capability:
    """One registered capability: a name, the worker URL serving it, and its limits.

    Attributes:
        name: what clients ask for (validated like every capability name).
        url: the worker's base URL (``http(s)://host:port[/prefix]``, no trailing ``/``).
        capacity: jobs and streams it runs at once (at least 1).
        price_per_unit: wei per unit; informational offchain, where every price is 0.
        price_scaling: the price's divisor (0 means 1, as in go-livepeer).
        currency: the price's currency (empty for wei).
        description: one line for people.
        token: the bearer token the orchestrator sends to the worker (never shown).

    Raises:
        RegistrationError: an invalid name, URL, capacity or price.
    """

    name: str
    url: str
    capacity: int = 1
    price_per_unit: int = 0
    price_scaling: int = 1
    currency: str = ""
    description: str = ""
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        validate_capability_name(self.name)
        object.__setattr__(self, "url", _check_worker_url(self.url))
        if self.capacity < 1:
            raise RegistrationError(
                f"capability {self.name!r}: capacity must be at least 1",
                got=str(self.capacity),
                fix="register the number of jobs the worker runs at once",
            )
        if self.price_per_unit < 0 or self.price_scaling < 0:
            raise RegistrationError(f"capability {self.name!r}: prices cannot be negative")
        if self.price_scaling == 0:
            object.__setattr__(self, "price_scaling", 1)
        if len(self.description) > _MAX_TEXT or len(self.currency) > _MAX_TEXT:
            raise RegistrationError(f"capability {self.name!r}: description or currency too long")

    @classmethod
    def parse(cls, body: bytes) -> Capability:
        """Decode a ``/capability/register`` body (go-livepeer's JSON rules).

        Raises:
            RequestError: 400 "Error registering capability: …" naming the field.
        """
        what = "the registration body"
        try:
            data = load_struct(body, _FIELDS, what=what, field="body")
            token = get_string(data, "token", what=what)
            return cls(
                name=get_string(data, "name", what=what),
                url=get_string(data, "url", what=what),
                capacity=get_int(data, "capacity", what=what),
                price_per_unit=get_int(data, "price_per_unit", what=what),
                price_scaling=get_int(data, "price_scaling", what=what),
                currency=get_string(data, "currency", what=what),
                description=get_string(data, "description", what=what),
                token=token or None,
            )
        except RequestError as exc:
            raise RequestError(f"Error registering capability: {exc}", field=exc.field) from exc
        except RegistrationError as exc:
            raise RequestError(f"Error registering capability: {exc}") from exc

    @classmethod
    def from_spec(cls, spec: str, *, capacity: int = 1) -> Capability:
        """A static registration from ``name=url`` (the CLI's ``--capability``).

        Raises:
            RegistrationError: the spec is not ``name=url`` or either part is invalid.
        """
        name, sep, url = spec.partition("=")
        if not sep:
            raise RegistrationError(
                "a static capability is given as name=url",
                expected="e.g. green-tint-cpu=http://127.0.0.1:8000",
                got=repr(spec[:80]),
            )
        return cls(name=name.strip(), url=url.strip(), capacity=capacity)

    def describe(self) -> str:
        """E.g. ``green-tint -> http://127.0.0.1:8000 (capacity 1)``; never the token."""
        return f"{self.name} -> {self.url} (capacity {self.capacity})"


@dataclass(frozen=True)
class CapabilityInfo:
    """A snapshot of one registered capability and its current load."""

    name: str
    url: str
    capacity: int
    load: int
    description: str
    price_per_unit: int
    price_scaling: int
    has_token: bool

    @property
    def available(self) -> int:
        """Free slots now."""
        return max(self.capacity - self.load, 0)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no token)."""
        return {
            "name": self.name,
            "url": self.url,
            "capacity": self.capacity,
            "load": self.load,
            "available": self.available,
            "description": self.description,
            "price_per_unit": self.price_per_unit,
            "price_scaling": self.price_scaling,
            "has_token": self.has_token,
        }


class CapabilityRegistry:
    """Registered capabilities and their load; used on the orchestrator's loop only."""

    def __init__(self) -> None:
        self._caps: dict[str, Capability] = {}
        self._load: dict[str, int] = {}

    def register(self, capability: Capability) -> bool:
        """Add or replace ``capability``; True when it replaced an earlier registration."""
        replaced = capability.name in self._caps
        self._caps[capability.name] = capability
        return replaced

    def unregister(self, name: str) -> bool:
        """Remove ``name``; True if it was registered. Jobs in progress finish normally."""
        return self._caps.pop(name, None) is not None

    def get(self, name: str) -> Capability | None:
        """The registration of ``name``, or None."""
        return self._caps.get(name)

    def load(self, name: str) -> int:
        """Jobs and streams of ``name`` in progress."""
        return self._load.get(name, 0)

    def available(self, name: str) -> int:
        """Free slots of ``name`` (0 when it is not registered)."""
        capability = self._caps.get(name)
        if capability is None:
            return 0
        return max(capability.capacity - self.load(name), 0)

    def reserve(self, name: str) -> Capability:
        """Take one slot of ``name``; pair every success with :meth:`free`.

        Raises:
            RequestError: 503 "No capacity available for capability" when ``name`` is
                not registered or all its slots are taken.
        """
        capability = self._caps.get(name)
        if capability is None:
            raise RequestError(
                f"No capacity available for capability {name}: it is not registered on "
                "this orchestrator",
                status=503,
                fix="register the worker (POST /capability/register) or start the "
                "orchestrator with --capability NAME=URL",
            )
        load = self.load(name)
        if load >= capability.capacity:
            raise RequestError(
                f"No capacity available for capability {name}: {load} of "
                f"{capability.capacity} slots in use",
                status=503,
                fix="retry when a job ends, or register the worker with a larger capacity",
            )
        self._load[name] = load + 1
        return capability

    def free(self, name: str) -> None:
        """Give back one slot of ``name`` taken by :meth:`reserve`."""
        load = self._load.get(name, 0) - 1
        if load > 0:
            self._load[name] = load
        else:
            self._load.pop(name, None)

    def infos(self) -> list[CapabilityInfo]:
        """Snapshots of every registration, sorted by name."""
        return [
            CapabilityInfo(
                name=cap.name,
                url=cap.url,
                capacity=cap.capacity,
                load=self.load(cap.name),
                description=cap.description,
                price_per_unit=cap.price_per_unit,
                price_scaling=cap.price_scaling,
                has_token=cap.token is not None,
            )
            for cap in sorted(self._caps.values(), key=lambda c: c.name)
        ]


def _check_worker_url(url: str) -> str:
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise RegistrationError("the worker URL cannot be parsed", got=repr(url[:80])) from exc
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.host
        or parsed.user is not None
        or parsed.query_string
        or parsed.fragment
        or "\x00" in url
        or len(url) > _MAX_TEXT
    ):
        raise RegistrationError(
            "the worker URL is not usable",
            expected="http(s)://host:port, optionally with a path prefix such as /api, "
            "without credentials, query or fragment",
            got=repr(url[:80]),
        )
    return url.rstrip("/")
