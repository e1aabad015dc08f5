"""The processor contract as hosts see it: input kinds, sync/async, output validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from byoc_lab import ContractError, FrameContractError, Grayscale, GreenTint, Passthrough
from byoc_lab.frames import RGBImage
from byoc_lab.loader import load_processor
from byoc_lab.runner import InputKind, ProcessorRunner


def _frame(value: tuple[int, int, int] = (10, 20, 30), h: int = 4, w: int = 6) -> RGBImage:
    image = np.zeros((h, w, 3), dtype=np.uint8)
    image[:] = value
    return image


async def test_green_tint_saturates_only_the_green_channel() -> None:
    runner = ProcessorRunner(GreenTint(boost=100))
    out = await runner.process(_frame((10, 200, 30)))
    assert out[0, 0].tolist() == [10, 255, 30]
    out = await runner.process(_frame((10, 20, 30)))
    assert out[0, 0].tolist() == [10, 120, 30]


async def test_grayscale_uses_bt601_luma_in_all_three_channels() -> None:
    out = await ProcessorRunner(Grayscale()).process(_frame((255, 0, 0)))
    assert out[0, 0].tolist() == [77, 77, 77]
    out = await ProcessorRunner(Grayscale()).process(_frame((255, 255, 255)))
    assert out[0, 0].tolist() == [255, 255, 255]


async def test_passthrough_returns_the_same_pixels() -> None:
    frame = _frame((1, 2, 3))
    out = await ProcessorRunner(Passthrough()).process(frame)
    assert np.array_equal(out, frame)


async def test_sync_process_runs_off_the_event_loop_thread() -> None:
    import threading

    seen: list[str] = []

    class Records(Passthrough):
        def process(self, frame: RGBImage) -> RGBImage:
            seen.append(threading.current_thread().name)
            return frame

    runner = ProcessorRunner(Records())
    assert not runner.is_async
    await runner.process(_frame())
    assert len(seen) == 1
    assert seen[0] != threading.current_thread().name


def test_input_kind_follows_annotation_or_explicit_format() -> None:
    class Raw:
        def process(self, frame: bytes) -> bytes:
            return frame

    class Explicit(Passthrough):
        input_format = "bytes"

    class Untyped:
        def process(self, frame):  # type: ignore[no-untyped-def]
            return frame

    assert ProcessorRunner(Raw()).input_kind is InputKind.BYTES
    assert ProcessorRunner(Explicit()).input_kind is InputKind.BYTES
    assert ProcessorRunner(Untyped()).input_kind is InputKind.RGB
    assert ProcessorRunner(Passthrough()).input_kind is InputKind.RGB


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        ("ReturnsFloat", "np.clip(out, 0, 255).astype(np.uint8)"),
        ("ReturnsGray2D", "stack a single channel"),
        ("ReturnsNone", "did you forget `return`"),
        ("ShortBytes", "expected 72 bytes"),
    ],
)
async def test_malformed_outputs_raise_with_frame_index_and_a_fix(
    scenario: Path, cls: str, words: str
) -> None:
    runner = ProcessorRunner(load_processor(f"{scenario / 'wrong_output.py'}:{cls}"))
    with pytest.raises(FrameContractError) as info:
        await runner.process(_frame(), index=7)
    assert info.value.frame_index == 7
    assert "on frame 7" in str(info.value)
    assert words in str(info.value)


def test_objects_without_process_break_the_contract() -> None:
    class NoProcess:
        pass

    class TwoArgs:
        def process(self, frame: RGBImage, extra: int) -> RGBImage:
            return frame

    with pytest.raises(ContractError, match="has no process"):
        ProcessorRunner(NoProcess())
    with pytest.raises(ContractError, match="exactly one frame argument"):
        ProcessorRunner(TwoArgs())


async def test_duck_typed_processor_with_sync_hooks(scenario: Path) -> None:
    processor = load_processor(f"{scenario / 'duck_typed.py'}:Mirror")
    runner = ProcessorRunner(processor)
    await runner.initialize()
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = await runner.process(frame)
    await runner.shutdown()
    assert np.array_equal(out, frame[:, ::-1])
    assert processor.calls == ["initialize", "shutdown"]


async def test_timeout_stops_waiting_for_a_hung_process() -> None:
    import asyncio

    class Hangs(Passthrough):
        async def process(self, frame: RGBImage) -> RGBImage:  # type: ignore[override]
            await asyncio.sleep(30)
            return frame

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await ProcessorRunner(Hangs()).process(_frame())
