"""Calling a processor the way its contract says, and checking what it returns.

:class:`ProcessorRunner` is the one adapter every host (check, preview, worker) uses:
it detects once whether ``process`` wants bytes or an array and whether it is async,
runs sync work off the event loop, and validates every output frame.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import numpy as np

from .errors import ContractError, FrameContractError
from .frames import RGBImage, describe_array, rgb_from_bytes

__all__ = ["InputKind", "ProcessorRunner", "detect_input_kind"]

_BYTES_TYPES = (bytes, bytearray, memoryview)


class InputKind(Enum):
    """What ``process`` receives: an RGB array or packed RGB bytes."""

    RGB = "rgb"
    BYTES = "bytes"


def detect_input_kind(processor: object) -> InputKind:
    """Decide what ``processor.process`` receives, from ``input_format`` or its annotation."""
    declared = getattr(processor, "input_format", "auto")
    if declared == "rgb":
        return InputKind.RGB
    if declared == "bytes":
        return InputKind.BYTES
    process = _process_method(processor)
    try:
        hints = typing.get_type_hints(process)
    except (NameError, TypeError, AttributeError, SyntaxError):  # unresolvable: use the text
        hints = {}
    params = [p for p in inspect.signature(process).parameters.values()]
    if not params:
        return InputKind.RGB
    first = params[0]
    hint = hints.get(first.name, first.annotation)
    if hint in _BYTES_TYPES or (isinstance(hint, str) and hint.strip() in {"bytes", "bytearray"}):
        return InputKind.BYTES
    return InputKind.RGB


def _process_method(processor: object) -> Callable[..., Any]:
    process: Callable[..., Any] | None = getattr(processor, "process", None)
    if process is None or not callable(process):
        raise ContractError(
            f"{type(processor).__name__} has no process(frame) method",
            fix="define `def process(self, frame: np.ndarray) -> np.ndarray` "
            "(or `async def process(self, frame: bytes) -> bytes`)",
        )
    sig = inspect.signature(process)
    required = [
        p
        for p in sig.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    takes_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values())
    if len(required) > 1 or (not required and not takes_varargs and not sig.parameters):
        raise ContractError(
            f"{type(processor).__name__}.process has the wrong signature {sig}",
            expected="exactly one frame argument, as in process(self, frame)",
        )
    return process


class ProcessorRunner:
    """Runs one processor instance under its contract.

    Args:
        processor: an object with ``process(frame)``; ``initialize()`` and
            ``shutdown()`` are optional. Sync methods run in a worker thread.

    Raises:
        ContractError: ``processor`` has no usable ``process`` method.
    """

    def __init__(self, processor: object) -> None:
        self._process = _process_method(processor)
        self.processor = processor
        self.input_kind = detect_input_kind(processor)
        self.is_async = inspect.iscoroutinefunction(self._process)
        # One call at a time: processors need not be thread-safe, and parameter updates
        # land between frames. Created lazily, on the loop that first uses it.
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        """Held during each ``process()`` call and each parameter update."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Apply parameter values between two frames; returns those that changed.

        Raises:
            ParamError: a value is unknown, mistyped or out of bounds (nothing applied).
            ContractError: the processor has no ``update_params`` method.
        """
        update = getattr(self.processor, "update_params", None)
        if not callable(update):
            raise ContractError(
                f"{self.name} takes no parameters (it has no update_params method)",
                fix="subclass byoc_lab.FrameProcessor and declare Param()s",
            )
        async with self.lock:
            result = update(params)
            if inspect.isawaitable(result):
                result = await result
        return dict(result) if isinstance(result, Mapping) else {}

    @property
    def name(self) -> str:
        """The processor's class name."""
        return type(self.processor).__name__

    def describe(self) -> str:
        """One line such as ``GreenTint (rgb array in/out, sync)``."""
        kind = "packed RGB bytes" if self.input_kind is InputKind.BYTES else "RGB array"
        return f"{self.name} ({kind} in/out, {'async' if self.is_async else 'sync'})"

    async def initialize(self) -> None:
        """Call the processor's ``initialize()`` if it has one."""
        await _call_hook(self.processor, "initialize")

    async def shutdown(self) -> None:
        """Call the processor's ``shutdown()`` if it has one."""
        await _call_hook(self.processor, "shutdown")

    async def process(self, image: RGBImage, *, index: int | None = None) -> RGBImage:
        """Process one RGB frame and return the validated RGB result.

        Args:
            image: RGB uint8 ``HxWx3``; an array processor may modify it in place.
            index: the frame's index, used in error messages.

        Bound it with ``async with asyncio.timeout(seconds)``; a sync ``process`` then
        keeps running in its thread, but the caller stops waiting.

        Raises:
            FrameContractError: the processor returned something that is not a frame
                of the expected form.
            Exception: whatever ``process`` itself raised, unchanged.
        """
        arg: Any = image.tobytes() if self.input_kind is InputKind.BYTES else image
        async with self.lock:
            result = await self._call(arg)
        return self._check_output(result, image, index)

    async def process_bytes(self, data: bytes) -> bytes:
        """Hand raw bytes to a ``bytes`` processor untouched and return what it gives back.

        Raises:
            ContractError: the processor takes arrays, not bytes.
            FrameContractError: it returned something other than bytes.
        """
        if self.input_kind is not InputKind.BYTES:
            raise ContractError(f"{self.name}.process takes RGB arrays, not raw bytes")
        async with self.lock:
            result = await self._call(data)
        if not isinstance(result, _BYTES_TYPES):
            raise FrameContractError(
                f"{self.name}.process() returned the wrong type",
                expected="bytes",
                got=describe_array(result),
            )
        return bytes(result)

    async def _call(self, arg: Any) -> Any:
        if self.is_async:
            return await self._process(arg)
        return await asyncio.to_thread(self._process, arg)

    async def timed_process(
        self, image: RGBImage, *, index: int | None = None
    ) -> tuple[RGBImage, float]:
        """Like :meth:`process`, also returning the seconds ``process`` took."""
        start = time.perf_counter()
        out = await self.process(image, index=index)
        return out, time.perf_counter() - start

    def _check_output(self, result: Any, image: RGBImage, index: int | None) -> RGBImage:
        where = f"{self.name}.process()" + (f" on frame {index}" if index is not None else "")
        h, w = image.shape[:2]
        if self.input_kind is InputKind.BYTES:
            if not isinstance(result, _BYTES_TYPES):
                raise FrameContractError(
                    f"{where} returned the wrong type",
                    expected=f"bytes of length {w * h * 3:,} (packed RGB {w}x{h})",
                    got=describe_array(result),
                    frame_index=index,
                )
            if len(result) != w * h * 3:
                raise FrameContractError(
                    f"{where} returned the wrong number of bytes",
                    expected=f"{w * h * 3:,} bytes (packed RGB {w}x{h}, the input's size)",
                    got=f"{len(result):,} bytes",
                    fix="return one byte per colour channel per pixel, as many as came in",
                    frame_index=index,
                )
            return rgb_from_bytes(bytes(result), w, h)
        if not (
            isinstance(result, np.ndarray)
            and result.dtype == np.uint8
            and result.ndim == 3
            and result.shape[2] == 3
            and result.shape[0] > 0
            and result.shape[1] > 0
        ):
            raise FrameContractError(
                f"{where} returned something that is not an RGB frame",
                expected="a uint8 array of shape (height, width, 3)",
                got=describe_array(result),
                fix=_array_fix(result),
                frame_index=index,
            )
        return result


def _array_fix(result: Any) -> str:
    if isinstance(result, np.ndarray) and result.dtype != np.uint8:
        return "convert with np.clip(out, 0, 255).astype(np.uint8)"
    if isinstance(result, np.ndarray) and result.ndim == 2:
        return "stack a single channel into three: np.repeat(out[:, :, None], 3, axis=2)"
    if result is None:
        return "return the processed frame (did you forget `return`?)"
    return "return an RGB numpy array"


async def _call_hook(processor: object, name: str) -> None:
    hook = getattr(processor, name, None)
    if hook is None:
        return
    if not callable(hook):
        raise ContractError(f"{type(processor).__name__}.{name} is not a method")
    if inspect.iscoroutinefunction(hook):
        await hook()
    else:
        result = await asyncio.to_thread(hook)
        if inspect.isawaitable(result):
            await result
