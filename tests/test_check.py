from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from byoc_lab import GreenTint, RuntimeStateError, SyntheticSource, check_processor
from byoc_lab.check import acheck_processor
from byoc_lab.runtime import get_loop


def test_reports_timing_output_shape_and_the_last_frames() -> None:
    report = check_processor(GreenTint(boost=50), frames=12, width=320, height=240)
    assert report.ok
    assert report.frames == 12
    assert len(report.timings_ms) == 12
    assert report.output_shape == (240, 320, 3)
    assert 0 < report.percentile_ms(50) <= report.percentile_ms(95)
    assert report.fps > 0
    diff = report.last_output.astype(int) - report.last_input.astype(int)
    assert int(diff[:, :, 0].max()) == 0
    assert 0 < int(diff[:, :, 1].max()) <= 50
    table = report.table()
    assert "GreenTint (RGB array in/out, sync)" in table
    assert "12 (12 ok, 0 failed)" in table
    assert "240x320x3" in table


def test_every_failing_frame_is_reported_with_its_index_and_the_rest_go_on(
    scenario: Path,
) -> None:
    report = check_processor(f"{scenario / 'raises_on_frame.py'}:RaisesOnOddFrames", frames=6)
    assert not report.ok
    assert [e.index for e in report.errors] == [1, 3, 5]
    assert report.errors[0].error == "process() raised ValueError: odd frame 1"
    assert len(report.timings_ms) == 3


def test_contract_violations_are_reported_not_raised(scenario: Path) -> None:
    report = check_processor(f"{scenario / 'wrong_output.py'}:ReturnsFloat", frames=2)
    assert [e.index for e in report.errors] == [0, 1]
    assert "not an RGB frame" in report.errors[0].error


def test_hung_process_times_out_per_frame() -> None:
    class Slow(GreenTint):
        async def process(self, frame: np.ndarray) -> np.ndarray:  # type: ignore[override]
            await asyncio.sleep(5)
            return frame

    report = check_processor(Slow(), frames=2, frame_timeout=0.05)
    assert [e.error for e in report.errors] == ["process() took longer than 0.05 s"] * 2


def test_runs_on_the_background_loop_so_it_works_under_a_running_loop() -> None:
    seen: list[str] = []

    class WhereAmI(GreenTint):
        async def process(self, frame: np.ndarray) -> np.ndarray:  # type: ignore[override]
            seen.append(threading.current_thread().name)
            return frame

    check_processor(WhereAmI(), source=SyntheticSource(width=64, height=48), frames=1)
    assert seen == ["byoc_lab-loop"]


async def test_blocking_call_from_inside_the_loop_is_refused_not_deadlocked() -> None:
    async def inner() -> None:
        check_processor(GreenTint(), frames=1)

    with pytest.raises(RuntimeStateError, match="use the async twin"):
        await asyncio_wrap(inner())


async def asyncio_wrap(coro: Coroutine[Any, Any, None]) -> None:
    await asyncio.wrap_future(get_loop().submit(coro))


async def test_async_twin_from_a_running_loop() -> None:
    report = await acheck_processor(GreenTint(), frames=3, width=64, height=48)
    assert report.ok
    assert report.frames == 3
