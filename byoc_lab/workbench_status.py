"""What a workbench's service is doing: its status snapshot and its recent events."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["EventLog", "ServiceEvent", "ServiceStatus"]


@dataclass(frozen=True)
class ServiceEvent:
    """One thing that happened to the service.

    Attributes:
        time: when (``time.time()``).
        kind: ``"started"``, ``"stopped"``, ``"swapped"``, ``"params"``, ``"job"``,
            ``"stream"`` or ``"error"``.
        message: what happened, one line.
    """

    time: float
    kind: str
    message: str

    def __str__(self) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(self.time))
        return f"{clock} {self.kind}: {self.message}"


class EventLog:
    """The last ``maxlen`` events, oldest first; safe to use from any thread."""

    def __init__(self, maxlen: int = 200) -> None:
        self._events: deque[ServiceEvent] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, kind: str, message: str) -> ServiceEvent:
        """Record an event now and return it."""
        event = ServiceEvent(time.time(), kind, message)
        with self._lock:
            self._events.append(event)
        return event

    def tail(self, n: int | None = None) -> tuple[ServiceEvent, ...]:
        """The last ``n`` events (all when None), newest last."""
        with self._lock:
            events = tuple(self._events)
        return events if n is None else events[-n:] if n > 0 else ()


@dataclass(frozen=True)
class ServiceStatus:
    """A snapshot of a workbench's local network, as a serve panel shows it.

    Attributes:
        running: True while the network serves.
        health: the worker's health, ``"IDLE"``, ``"OK"``, ``"LOADING"`` or
            ``"ERROR"``; ``"STOPPED"`` when not serving.
        urls: ``gateway``, ``orchestrator``, ``worker`` and ``trickle`` base URLs
            (empty when not serving).
        error: why health is ERROR, or why serving last failed; else None.
        processor: the worker's processor, e.g. ``GreenTint (RGB array in/out, sync)``
            (the preview's when not serving).
        streams: live streams on the worker.
        events: recent events, newest last.
        log: the gateway's and orchestrator's routing log, newest last.
    """

    running: bool
    health: str
    urls: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    processor: str = ""
    streams: int = 0
    events: tuple[ServiceEvent, ...] = ()
    log: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line, e.g. ``OK: gateway http://127.0.0.1:40123, 1 live stream``."""
        if not self.running:
            return f"STOPPED: {self.error}" if self.error else "STOPPED: not serving"
        text = f"{self.health}: gateway {self.urls.get('gateway', '?')}"
        text += f", {self.streams} live stream{'s' if self.streams != 1 else ''}"
        return f"{text}; {self.error}" if self.error else text
