"""Data a processor emits next to its frames: the hook behind ``send_data``.

A processor calls :func:`send_data` (``self.send_data(obj)`` on a
:class:`~byoc_lab.processor.FrameProcessor`) from inside ``process()``. Whoever hosts
the processor decides where the data goes by installing a sink around each call with
:func:`data_sink`; a live stream's sink writes JSON lines to the stream's data channel.
Outside a sink (a preview, ``check_processor``, a batch job) the data is dropped and
``send_data`` returns False, so the same processor runs everywhere unchanged.

The sink lives in a :class:`contextvars.ContextVar`, so it follows the call into
``asyncio.to_thread`` (where sync processors run) and into tasks an async processor
creates. This module knows nothing about trickle, HTTP or JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["DataSink", "current_sink", "data_sink", "send_data"]

DataSink = Callable[[Any], bool]
"""Takes one object from a processor; returns whether it was accepted. Must be
thread-safe (it is called from the processor's thread) and must not block."""

_SINK: ContextVar[DataSink | None] = ContextVar("byoc_lab_data_sink", default=None)


def send_data(obj: Any) -> bool:
    """Emit ``obj`` on the current data sink, if any.

    Returns:
        True if a sink accepted it; False when nothing collects data here, or the sink
        refused it (too large, not serialisable: the host counts and reports those).
    """
    sink = _SINK.get()
    return sink(obj) if sink is not None else False


def current_sink() -> DataSink | None:
    """The sink :func:`send_data` would use now (None outside a host's sink)."""
    return _SINK.get()


@contextmanager
def data_sink(sink: DataSink | None) -> Iterator[None]:
    """Route :func:`send_data` calls made inside the block (and its threads) to ``sink``."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)
