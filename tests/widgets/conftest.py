"""Widgets without a browser: the test plays the browser's end of each widget's comm.

ipywidgets opens a widget's comm with ``comm.create_comm``; outside a kernel that is a
``DummyComm`` that drops everything. :class:`BrowserEnd` replaces it: it records what
the kernel sends and delivers messages the way the kernel's comm manager does
(``comm.handle_msg`` -> ``Widget._handle_msg`` -> the widget's ``on_msg`` callbacks),
so the widgets' real message path runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import comm
import pytest
from comm.base_comm import BaseComm

T = TypeVar("T")

Message = tuple[dict[str, Any], list[bytes]]


class BrowserEnd(BaseComm):
    """A comm whose far end is the test."""

    def __init__(self, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, list[bytes]]] = []
        self._cond = threading.Condition()
        super().__init__(**kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
        **keys: Any,
    ) -> None:
        with self._cond:
            self.published.append((msg_type, data, [bytes(b) for b in buffers or []]))
            self._cond.notify_all()

    def custom(self) -> list[Message]:
        """Custom messages the kernel sent so far: ``(content, buffers)``."""
        with self._cond:
            return [
                (data["content"], buffers)
                for kind, data, buffers in self.published
                if kind == "comm_msg" and data and data.get("method") == "custom"
            ]

    def of_type(self, kind: str) -> list[Message]:
        return [(c, b) for c, b in self.custom() if c.get("type") == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 20.0) -> list[Message]:
        """Wait until the kernel has sent ``count`` custom messages of type ``kind``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.of_type(kind)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count} {kind!r} message(s) not sent in {timeout} s")
                self._cond.wait(left)
        return self.of_type(kind)

    def deliver(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """The browser sends a custom message (as ``model.send`` does)."""
        self.handle_msg(
            {
                "content": {
                    "comm_id": self.comm_id,
                    "data": {"method": "custom", "content": content},
                },
                "buffers": [memoryview(b) for b in buffers or []],
            }
        )

    def sync_from_browser(self, state: dict[str, Any]) -> None:
        """The browser changes traits (as ``model.save_changes`` does)."""
        self.handle_msg(
            {
                "content": {"comm_id": self.comm_id, "data": {"method": "update", "state": state}},
                "buffers": [],
            }
        )


@pytest.fixture(autouse=True)
def browser_comms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every widget created in a test gets a :class:`BrowserEnd` comm."""
    monkeypatch.setattr(comm, "create_comm", BrowserEnd)


def end_of(widget: Any) -> BrowserEnd:
    """The browser end of ``widget``'s comm."""
    assert isinstance(widget.comm, BrowserEnd)
    return widget.comm


def eventually(check: Callable[[], T | None], timeout: float = 20.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        time.sleep(0.02)
