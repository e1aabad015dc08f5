"""Callbacks subscribed to one kind of event: add one, get its unsubscriber, notify all.

Used wherever byoc_lab lets a caller watch something (preview frames, stream output,
processor swaps, an editor's applies). Thread-safe: subscribing and notifying may happen
on different threads; callbacks run on the notifying thread, outside the lock. A callback
that raises is logged with what it was watching and never stops the notifier or the
callbacks after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Listeners"]

T = TypeVar("T")
logger = logging.getLogger(__name__)


class Listeners(Generic[T]):
    """Callbacks taking one ``T``.

    Args:
        what: names the event in the log line of a callback that raised, e.g.
            ``"preview on_frame"``.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[T], None]] = []

    def add(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Subscribe ``callback``; returns a function that unsubscribes it (idempotent)."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def notify(self, value: T) -> None:
        """Call every subscribed callback with ``value``, in subscription order."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(value)
            except Exception:  # a subscriber's bug must not stop the notifier: logged
                logger.exception("a %s callback raised", self._what)

    def __len__(self) -> int:
        with self._lock:
            return len(self._callbacks)
