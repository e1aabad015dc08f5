"""The routing log: what a node did with each job, in plain sentences.

The seed quickstart promises the orchestrator's terminal shows the BYOC routing path
(capability registered → job received → forwarded to worker → response returned).
:class:`RoutingLog` keeps the last ``maxlen`` such lines in memory for notebooks and
tests, and logs each one at INFO. Lines never contain secrets or tokens.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["RoutingEntry", "RoutingLog"]


@dataclass(frozen=True)
class RoutingEntry:
    """One routing event: wall-clock ``time`` (seconds since the epoch) and its ``message``."""

    time: float
    message: str

    def __str__(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        return f"{stamp} {self.message}"


class RoutingLog:
    """A bounded, in-memory list of routing sentences, each also logged at INFO.

    Args:
        logger: where each line is logged.
        maxlen: how many lines are kept; older ones are dropped.
    """

    def __init__(self, logger: logging.Logger, maxlen: int = 200) -> None:
        self._logger = logger
        self._entries: deque[RoutingEntry] = deque(maxlen=maxlen)

    def add(self, message: str, *args: object) -> None:
        """Record ``message % args`` (%-style, like logging) and log it at INFO."""
        text = message % args if args else message
        self._entries.append(RoutingEntry(time.time(), text))
        self._logger.info("%s", text)

    def entries(self) -> list[RoutingEntry]:
        """The kept entries, oldest first."""
        return list(self._entries)

    def lines(self) -> list[str]:
        """The kept messages, oldest first, without timestamps."""
        return [entry.message for entry in self._entries]

    def clear(self) -> None:
        """Forget every kept entry."""
        self._entries.clear()
