"""Preview test rig: engines that are always stopped, and a release for hung processors.

Everything is real: engines run on byoc_lab's background loop, sources are real
sources (synthetic frames with their numbers burned in, video files written by
OpenCV), processors are real processors. Nothing asserts speed: the machine is
shared, so waits poll generously for an outcome instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from byoc_lab.preview import PreviewEngine

from .helpers import SIZE, solid


@pytest.fixture
def make_engine() -> Iterator[Callable[..., PreviewEngine]]:
    """Create engines (default: 320x240 solid source); all are stopped at teardown."""
    engines: list[PreviewEngine] = []

    def make(processor: Any, source: Any = None, **kwargs: Any) -> PreviewEngine:
        kwargs.setdefault("size", SIZE)
        engine = PreviewEngine(processor, source if source is not None else solid(), **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so processors that hang on it let their threads end."""
    event = threading.Event()
    yield event
    event.set()
