"""Registering a worker's capability with an orchestrator, and keeping it registered.

go-livepeer's orchestrator learns about workers only through
``POST {orch}/capability/register`` with the **raw** orchestrator secret in
``Authorization`` (no "Bearer") and a JSON body ``{name, url, capacity,
price_per_unit, price_scaling, description[, currency, token]}``; it answers 200
``ok``, or 400 ``invalid authorization``. It drops a capability after one failed call
to the worker, so :class:`Registrar` registers again periodically.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from byoc_lab.errors import RegistrationError

__all__ = ["Registrar", "Registration", "register", "unregister", "validate_capability_name"]

logger = logging.getLogger(__name__)

_CAPABILITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def validate_capability_name(name: str) -> str:
    """Return ``name`` if it is safe in URLs, labels and logs, else raise RegistrationError."""
    if not isinstance(name, str) or not _CAPABILITY.fullmatch(name) or ".." in name:
        raise RegistrationError(
            "capability name is not usable",
            expected="1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            got=repr(name)[:80],
        )
    return name


@dataclass(frozen=True)
class Registration:
    """What to register, and where.

    Attributes:
        orch_url: the orchestrator's base URL, e.g. ``https://127.0.0.1:8935``.
        secret: the orchestrator's ``-orchSecret`` (never logged or shown).
        name: capability name clients ask for.
        url: where the orchestrator reaches this worker, e.g. ``http://127.0.0.1:8000``.
        capacity: concurrent jobs/streams the worker takes.
        price_per_unit: wei per unit (one second of compute) before scaling.
        price_scaling: divisor of ``price_per_unit`` (0 means 1 to go-livepeer).
        currency: empty (wei) or a currency that needs the orchestrator's price feed.
        description: one line for people.
        token: bearer token the orchestrator must send to this worker (optional).
        verify_tls: verify the orchestrator's TLS certificate (go-livepeer's is
            self-signed by default, so behind one this must be False).
    """

    orch_url: str
    secret: str = field(repr=False)
    name: str
    url: str
    capacity: int = 1
    price_per_unit: int = 0
    price_scaling: int = 1
    currency: str = ""
    description: str = ""
    token: str | None = field(default=None, repr=False)
    verify_tls: bool = True

    def __post_init__(self) -> None:
        validate_capability_name(self.name)
        for label, value in (("orchestrator URL", self.orch_url), ("worker URL", self.url)):
            if not value.startswith(("http://", "https://")):
                raise RegistrationError(
                    f"{label} must start with http:// or https://", got=repr(value)
                )
        if self.capacity < 1:
            raise RegistrationError("capacity must be at least 1", got=str(self.capacity))
        if self.price_per_unit < 0 or self.price_scaling < 0:
            raise RegistrationError("prices cannot be negative")
        if not self.secret:
            raise RegistrationError(
                "no orchestrator secret given",
                fix="pass --orch-secret-file FILE or set ORCH_SECRET (the orchestrator's "
                "-orchSecret)",
            )

    def body(self) -> dict[str, Any]:
        """The JSON go-livepeer's ``ExternalCapability`` expects."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "url": self.url,
            "capacity": self.capacity,
            "price_per_unit": self.price_per_unit,
            "price_scaling": self.price_scaling,
        }
        if self.currency:
            out["currency"] = self.currency
        if self.token:
            out["token"] = self.token
        return out

    def describe(self) -> str:
        """E.g. ``capability 'green-tint' → http://127.0.0.1:8000 (capacity 1, price 0)``."""
        price = (
            f"{self.price_per_unit}/{self.price_scaling}"
            if self.price_scaling > 1
            else str(self.price_per_unit)
        )
        return f"capability {self.name!r} → {self.url} (capacity {self.capacity}, price {price})"


async def register(http: aiohttp.ClientSession, reg: Registration) -> None:
    """Register once.

    Raises:
        RegistrationError: refused (wrong secret, bad body) or unreachable; the
            message says which and what to do.
    """
    await _post(http, reg, "/capability/register", json_body=reg.body())


async def unregister(http: aiohttp.ClientSession, reg: Registration) -> None:
    """Remove the capability (go-livepeer takes the raw name as the body)."""
    await _post(http, reg, "/capability/unregister", data=reg.name.encode())


async def _post(
    http: aiohttp.ClientSession,
    reg: Registration,
    path: str,
    *,
    json_body: dict[str, Any] | None = None,
    data: bytes | None = None,
) -> None:
    url = reg.orch_url.rstrip("/") + path
    try:
        async with http.post(
            url,
            json=json_body,
            data=data,
            headers={"Authorization": reg.secret},
            ssl=reg.verify_tls,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            text = (await response.text())[:300].strip()
            if response.status == 200:
                return
    except aiohttp.ClientSSLError as exc:
        raise RegistrationError(
            f"the orchestrator at {reg.orch_url} has a TLS certificate this worker does not "
            f"trust ({exc})",
            fix="go-livepeer orchestrators use self-signed certificates: pass --orch-insecure",
        ) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RegistrationError(
            f"cannot reach the orchestrator at {reg.orch_url} ({type(exc).__name__}: {exc})",
            fix="check that it is running and that the URL and port are right",
        ) from exc
    if response.status == 400 and "authorization" in text.lower():
        raise RegistrationError(
            f"the orchestrator at {reg.orch_url} refused the secret (HTTP 400 {text!r})",
            fix="use the same secret as the orchestrator's -orchSecret",
        )
    raise RegistrationError(
        f"the orchestrator at {reg.orch_url} refused {path} (HTTP {response.status} {text!r})"
    )


class Registrar:
    """Keeps a capability registered: first at start, then every ``interval`` seconds.

    Failures are logged in plain words and retried with back-off (1 s doubling to
    30 s, and never longer than ``interval`` when that is longer than 1 s), so an
    orchestrator that restarts (and forgot every capability) has this worker back
    within about one interval; a registration that succeeds again after failing is
    logged once.
    """

    def __init__(
        self, http: aiohttp.ClientSession, reg: Registration, *, interval: float = 60.0
    ) -> None:
        self._http = http
        self.registration = reg
        self.interval = interval
        self.registered = asyncio.Event()
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background task (on the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="byoc_lab-registrar")

    async def stop(self, *, unregister_capability: bool = False) -> None:
        """Cancel and await the task; optionally unregister (errors only logged)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if unregister_capability and self.registered.is_set():
            try:
                await unregister(self._http, self.registration)
            except RegistrationError as exc:
                logger.warning("could not unregister: %s", exc)

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await register(self._http, self.registration)
            except RegistrationError as exc:
                if str(exc) != self.last_error:
                    logger.warning("registration failed, retrying: %s", exc)
                self.last_error = str(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0, max(self.interval, 1.0))
                continue
            if not self.registered.is_set() or self.last_error is not None:
                logger.info(
                    "registered %s with the orchestrator at %s",
                    self.registration.describe(),
                    self.registration.orch_url,
                )
            else:
                logger.debug("re-registered %s", self.registration.name)
            self.last_error = None
            self.registered.set()
            backoff = 1.0
            await asyncio.sleep(self.interval)
