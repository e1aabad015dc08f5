"""What a gateway keeps per stream: its status JSON, and its data lines for SSE readers.

:class:`StatusStore` is go-livepeer's status store (``server/ai_pipeline_status.go``)
with two fixes. go-livepeer replaces a stream's whole status with each worker event of
``type == "status"``, losing the orchestrator and any error; here the event replaces
the worker's part and ``orchestrator``, ``whep_url`` and ``error`` stay. And
go-livepeer's BYOC gateway clears a status 60 s after the stream *starts*; here it
stays while the stream runs and for ``linger`` seconds after it ends.

:class:`DataHub` fans a stream's data-channel lines out to every ``/data`` reader.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["DataHub", "StatusStore"]

logger = logging.getLogger(__name__)

_KEPT_KEYS = ("orchestrator", "whep_url", "error")


class StatusStore:
    """Status JSON per stream id; entries of ended streams expire after ``linger`` s."""

    def __init__(self, linger: float) -> None:
        self._linger = linger
        self._entries: dict[str, dict[str, Any]] = {}
        self._expires: dict[str, float] = {}

    def reset(self, stream_id: str, initial: dict[str, Any]) -> None:
        """Start a fresh status for ``stream_id`` (a new stream under that id)."""
        self._expire_old()
        self._entries[stream_id] = dict(initial)
        self._expires.pop(stream_id, None)

    def get(self, stream_id: str) -> dict[str, Any] | None:
        """A copy of the status of ``stream_id``, or None (never started, or expired)."""
        self._expire_old()
        entry = self._entries.get(stream_id)
        return dict(entry) if entry is not None else None

    def set_key(self, stream_id: str, key: str, value: Any) -> None:
        """Set one key (go-livepeer's ``StoreKey``)."""
        self._entries.setdefault(stream_id, {})[key] = value

    def set_error(self, stream_id: str, message: str) -> None:
        """Record the stream's first error (go-livepeer's ``StoreIfNotExists("error")``)."""
        entry = self._entries.setdefault(stream_id, {})
        if "error" not in entry:
            entry["error"] = {"error_message": message, "error_time": int(time.time() * 1000)}
            logger.info("stream %s: %s", stream_id, message)

    def store_event(self, stream_id: str, event: dict[str, Any]) -> None:
        """Replace the worker's part of the status with a ``type == "status"`` event."""
        old = self._entries.get(stream_id, {})
        new = dict(event)
        for key in _KEPT_KEYS:
            if key in old and key not in new:
                new[key] = old[key]
        self._entries[stream_id] = new

    def ended(self, stream_id: str) -> None:
        """The stream ended: keep its status ``linger`` more seconds."""
        if stream_id in self._entries:
            self._expires[stream_id] = time.monotonic() + self._linger

    def _expire_old(self) -> None:
        now = time.monotonic()
        for stream_id in [s for s, t in self._expires.items() if t <= now]:
            del self._expires[stream_id]
            self._entries.pop(stream_id, None)


class DataHub:
    """One stream's data lines, handed to every reader; readers join at the recent past.

    A new reader first gets the last ``history`` lines, then each new one. A reader
    that falls ``backlog`` lines behind loses the oldest lines it has not read (and it
    is logged), so memory stays bounded whatever the readers do.
    """

    def __init__(self, *, history: int = 64, backlog: int = 1024) -> None:
        self._history: deque[str] = deque(maxlen=history)
        self._backlog = backlog
        self._readers: set[asyncio.Queue[str | None]] = set()
        self.closed = False

    def publish(self, line: str) -> None:
        """Hand ``line`` to every reader (and keep it for readers yet to come)."""
        if self.closed:
            return
        self._history.append(line)
        for queue in self._readers:
            if queue.full():
                queue.get_nowait()
                logger.debug("data reader fell %d lines behind; oldest dropped", self._backlog)
            queue.put_nowait(line)

    def close(self) -> None:
        """No more lines: every reader's iteration ends. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for queue in self._readers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def follow(self) -> AsyncIterator[str]:
        """Yield the recent lines, then each new one, until :meth:`close`."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(self._backlog)
        for line in list(self._history)[-self._backlog :]:
            queue.put_nowait(line)
        if self.closed:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
        self._readers.add(queue)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            self._readers.discard(queue)
