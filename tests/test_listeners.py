"""Listeners: subscribe, unsubscribe, notify in order; a raising callback is only logged."""

from __future__ import annotations

import logging

import pytest

from byoc_lab.listeners import Listeners


def test_callbacks_run_in_order_and_unsubscribe_is_idempotent() -> None:
    seen: list[tuple[str, int]] = []
    listeners: Listeners[int] = Listeners("test event")
    first = listeners.add(lambda value: seen.append(("first", value)))
    listeners.add(lambda value: seen.append(("second", value)))
    listeners.notify(1)
    first()
    first()
    listeners.notify(2)
    assert seen == [("first", 1), ("second", 1), ("second", 2)]
    assert len(listeners) == 1


def test_a_raising_callback_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []
    listeners: Listeners[int] = Listeners("test event")

    def broken(value: int) -> None:
        raise ValueError(f"broken on {value}")

    listeners.add(broken)
    listeners.add(seen.append)
    with caplog.at_level(logging.ERROR, logger="byoc_lab.listeners"):
        listeners.notify(7)
    assert seen == [7]
    assert "a test event callback raised" in caplog.text
    assert "broken on 7" in caplog.text


def test_a_callback_may_unsubscribe_itself_while_notified() -> None:
    seen: list[int] = []
    listeners: Listeners[int] = Listeners("test event")

    def once(value: int) -> None:
        seen.append(value)
        unsubscribe()

    unsubscribe = listeners.add(once)
    listeners.notify(1)
    listeners.notify(2)
    assert seen == [1]
