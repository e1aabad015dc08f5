"""How a gateway finds orchestrators for a capability: ``GET /process/token`` on each.

As go-livepeer (``byoc/job_gateway.go getJobOrchestrators``): the gateway asks every
orchestrator in its list that the job's include/exclude filter allows, all at once,
with ``Livepeer-Capability`` and a ``Livepeer-Eth-Address`` sender; each answer must
come within the per-orchestrator timeout and all within the search timeout; an
orchestrator is usable when its token shows ``available_capacity > 0``.

Deliberate differences: usable orchestrators are tried in the gateway's list order
(go-livepeer shuffles), so a local network is deterministic; every orchestrator that
is not usable comes with the reason, so "No orchestrators found" can say why; and the
``Livepeer-Orch-Search-Timeout`` / ``-Resp-Timeout`` headers take effect (go-livepeer
parses them into shadowed variables and always uses 1 s and 500 ms).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiohttp

from byoc_lab.errors import RequestError
from byoc_lab.network.livepeer_header import JobSender, OrchestratorFilter
from byoc_lab.network.wire import HEADER_CAPABILITY, HEADER_ETH_ADDRESS, JobToken

__all__ = ["Discovery", "Offer", "discover", "parse_go_duration"]

logger = logging.getLogger(__name__)

_DURATION_RE: Final = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_TOKEN_BODY_MAX: Final = 64 * 1024


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go duration such as ``"1.5s"``, ``"500ms"`` or ``"1m30s"``; None if invalid.

    Follows ``time.ParseDuration``: a sequence of decimal numbers with units, an optional
    sign (negative durations return None here, as a timeout cannot be negative), "0".
    """
    body = text.strip()
    if body.startswith("+"):
        body = body[1:]
    if body == "0":
        return 0.0
    if not body or body.startswith("-"):
        return None
    total = 0.0
    position = 0
    while position < len(body):
        match = _DURATION_RE.match(body, position)
        if match is None or match.group(1) in ("", "."):
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total


@dataclass(frozen=True)
class Offer:
    """An orchestrator that can take the job: its list URL and its token."""

    pool_url: str
    token: JobToken

    @property
    def target(self) -> str:
        """Where to send the job: the token's ``service_addr`` (else the list URL)."""
        return self.token.service_addr or self.pool_url


@dataclass(frozen=True)
class Discovery:
    """The outcome of one search: usable offers in list order, and why others were not."""

    offers: tuple[Offer, ...]
    skipped: tuple[str, ...]

    def no_orchestrators(self, capability: str) -> RequestError:
        """go-livepeer's 400 "No orchestrators found for capability X", with reasons."""
        reasons = "; ".join(self.skipped) if self.skipped else "the gateway has no orchestrators"
        return RequestError(
            f"No orchestrators found for capability {capability} ({reasons})",
            # An orchestrator answers "capacity 0" both for an unknown capability and for a
            # registered one whose workers are all busy: the fix names both.
            fix="register a worker for this capability with an orchestrator this gateway "
            "knows; if one is registered, it is busy: wait for a job or stream to end or "
            "give it more capacity; or check the include/exclude lists in the job's parameters",
        )


async def discover(
    http: aiohttp.ClientSession,
    pool: Sequence[str],
    capability: str,
    allowed: OrchestratorFilter,
    *,
    search_timeout: float,
    resp_timeout: float,
) -> Discovery:
    """Ask every allowed orchestrator in ``pool`` for a token for ``capability``.

    Never raises for an orchestrator's failure: it goes into ``skipped``.
    """
    skipped: list[str] = []
    asked: list[str] = []
    for url in pool:
        if allowed.allows(url):
            asked.append(url)
        else:
            skipped.append(f"{url}: left out by the job's include/exclude parameters")
    tasks = {
        url: asyncio.create_task(_ask(http, url, capability, resp_timeout), name=f"token {url}")
        for url in asked
    }
    try:
        if tasks:
            await asyncio.wait(tasks.values(), timeout=search_timeout)
    finally:  # also when the caller is cancelled: no token request outlives the search
        pending = [task for task in tasks.values() if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    offers: list[Offer] = []
    for url, task in tasks.items():
        if task.cancelled():
            skipped.append(f"{url}: no token within the {search_timeout:g} s search")
            continue
        outcome = task.result()
        if isinstance(outcome, str):
            skipped.append(f"{url}: {outcome}")
        elif outcome.available_capacity <= 0:
            skipped.append(f"{url}: no free capacity for {capability}")
        else:
            offers.append(Offer(url, outcome))
    logger.debug("discovery for %s: %d offers, skipped %s", capability, len(offers), skipped)
    return Discovery(tuple(offers), tuple(skipped))


async def _ask(
    http: aiohttp.ClientSession, url: str, capability: str, limit_s: float
) -> JobToken | str:
    """The orchestrator's token within ``limit_s`` seconds, or a sentence saying why not."""
    headers = {HEADER_ETH_ADDRESS: JobSender().encode(), HEADER_CAPABILITY: capability}
    try:
        async with asyncio.timeout(limit_s):
            async with http.get(url + "/process/token", headers=headers) as response:
                body = await response.content.read(_TOKEN_BODY_MAX)
                if response.status != 200:
                    text = body.decode("utf-8", "replace").strip()[:200]
                    return f"token refused (HTTP {response.status} {text!r})"
                return JobToken.parse(body)
    except TimeoutError:
        return f"no token within {limit_s:g} s"
    except aiohttp.ClientError as exc:
        return f"unreachable ({type(exc).__name__}: {exc})"
    except RequestError as exc:
        return str(exc)
