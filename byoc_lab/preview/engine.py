"""``PreviewEngine``: a processor previewed live on a source, without blocking the kernel.

The engine lives on byoc_lab's background loop (:mod:`byoc_lab.runtime`): the source
is read in worker threads, frames go through ``process()`` under a timeout, and the
latest frame wins at every step (see :mod:`byoc_lab.preview.core`). Each sync method
submits to that loop and waits a bounded time, so it is callable from the kernel's
main thread (or any thread but the loop's) and returns promptly; async twins
(``await engine.aplay()``) serve top-level ``await`` and coroutines.

Example::

    engine = PreviewEngine(GreenTint(), "synthetic")
    engine.play()
    frame = engine.latest()          # PreviewFrame: input, output, error, process_ms
    engine.update_params({"boost": 120})
    engine.stop()
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar

from byoc_lab.errors import ByocLabError
from byoc_lab.loader import as_processor
from byoc_lab.preview.core import PreviewCore, PreviewState
from byoc_lab.preview.frame import PreviewFrame
from byoc_lab.preview.processing import SHUTDOWN_TIMEOUT
from byoc_lab.preview.reader import CLOSE_WAIT, open_preview_source
from byoc_lab.preview.stats import PreviewStats
from byoc_lab.runner import ProcessorRunner
from byoc_lab.runtime import get_loop
from byoc_lab.source_base import FrameSource, Size, check_size

__all__ = ["PreviewEngine", "PreviewState"]

T = TypeVar("T")

_QUICK = 15.0  # pause, update_params, set_source: seconds before a sync call gives up
_INIT = 120.0  # play, swap: the processor's initialize() may load a model


class PreviewEngine:
    """Preview ``processor`` on ``source``.

    Args:
        processor: an instance, a class, or a spec such as ``"file.py:Class"``.
        source: a :class:`~byoc_lab.source_base.FrameSource`, or a text for
            :func:`~byoc_lab.sources.open_source` (``"auto"``, ``"synthetic"``,
            ``"webcam:0"``, a file). A text is opened here, in the caller's thread.
        size: ``(width, height)`` every frame is resized to.
        frame_timeout: seconds one ``process()`` call may take; past it the processor
            is treated as hung until :meth:`swap` replaces it.
        jpeg_quality: quality of :class:`PreviewFrame`'s JPEG encodings.

    Raises:
        SourceError: the source cannot be opened, or ``size`` is not a valid size.
        ContractError: the processor has no usable ``process`` method.
        ByocLabError: ``frame_timeout`` or ``jpeg_quality`` is out of range.

    The engine owns the source and the processor: :meth:`stop` closes the one and
    shuts the other down. Create it outside the background loop's thread.
    """

    def __init__(
        self,
        processor: Any,
        source: FrameSource | str = "auto",
        *,
        size: Size = (640, 480),
        frame_timeout: float = 5.0,
        jpeg_quality: int = 80,
    ) -> None:
        check_size(*size)
        if not frame_timeout > 0:
            raise ByocLabError("frame_timeout must be positive", got=repr(frame_timeout))
        if not 1 <= jpeg_quality <= 100:
            raise ByocLabError("jpeg_quality must be 1..100", got=repr(jpeg_quality))
        runner = ProcessorRunner(as_processor(processor))
        self._core = PreviewCore(
            runner,
            open_preview_source(source, size),
            size=size,
            frame_timeout=frame_timeout,
            jpeg_quality=jpeg_quality,
        )

    # -- sync API (any thread but the loop's) -------------------------------------------

    def play(self) -> None:
        """Start or resume; the first call initializes the processor.

        Raises:
            RuntimeStateError: the engine is stopped.
            Exception: whatever the processor's ``initialize()`` raised.
        """
        self._run(self._core.play(), _INIT)

    def pause(self) -> None:
        """Stop taking new frames (no-op once stopped)."""
        self._run(self._apause(), _QUICK)

    def step(self) -> PreviewFrame | None:
        """Pause, process exactly one new source frame and return it.

        Returns None when the source gave no frame (``stats().message`` says why).
        """
        return self._run(self._core.step(), _INIT + self._core.frame_timeout)

    def stop(self) -> None:
        """Stop the tasks, close the source and shut the processor down (idempotent).

        Final: :meth:`stats` and :meth:`latest` still answer, control methods raise
        :class:`~byoc_lab.errors.RuntimeStateError`.
        """
        self._run(self._core.stop(), self._stop_timeout())

    def set_source(self, source: FrameSource | str) -> None:
        """Read from ``source`` from the next frame; the old source is closed.

        Raises:
            SourceError: it cannot be opened (the old source stays).
        """
        self._run(self._core.set_source(source), _QUICK + CLOSE_WAIT)

    def swap(self, processor: Any) -> dict[str, Any]:
        """Use another processor from the next frame; returns the carried parameters.

        The new processor is initialized first; declared parameters it shares with the
        old one keep their current values; the old one is shut down after its frame in
        flight, or abandoned if it hangs (see :mod:`byoc_lab.preview.processing`).

        Raises:
            ContractError: the new processor breaks the contract (the old one stays).
            Exception: whatever its ``initialize()`` raised (the old one stays).
        """
        runner = ProcessorRunner(as_processor(processor))
        return self._run(self._core.swap(runner), self._swap_timeout())

    def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Apply parameter values from the next frame; returns those that changed.

        Raises:
            ParamError: a value is unknown, mistyped or out of bounds (nothing applied).
        """
        return self._run(self._core.update_params(params), _QUICK + self._core.frame_timeout)

    # -- async twins ---------------------------------------------------------------------

    async def aplay(self) -> None:
        """Async twin of :meth:`play`."""
        await get_loop().run_async(self._core.play())

    async def apause(self) -> None:
        """Async twin of :meth:`pause`."""
        await get_loop().run_async(self._apause())

    async def astep(self) -> PreviewFrame | None:
        """Async twin of :meth:`step`."""
        return await get_loop().run_async(self._core.step())

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        await get_loop().run_async(self._core.stop())

    async def aset_source(self, source: FrameSource | str) -> None:
        """Async twin of :meth:`set_source`."""
        await get_loop().run_async(self._core.set_source(source))

    async def aswap(self, processor: Any) -> dict[str, Any]:
        """Async twin of :meth:`swap`."""
        runner = ProcessorRunner(as_processor(processor))
        return await get_loop().run_async(self._core.swap(runner))

    async def aupdate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Async twin of :meth:`update_params`."""
        return await get_loop().run_async(self._core.update_params(params))

    # -- observation (any thread, including the loop's) --------------------------------

    def latest(self) -> PreviewFrame | None:
        """The most recent frame handled, or None before the first."""
        return self._core.latest

    def stats(self) -> PreviewStats:
        """State, counters, frame rate and ``process()`` percentiles, now."""
        return self._core.stats()

    def on_frame(self, callback: Callable[[PreviewFrame], None]) -> Callable[[], None]:
        """Call ``callback(frame)`` for every frame handled; returns an unsubscriber.

        The callback runs on the background loop's thread and must return quickly
        (hand work to another thread); one that raises is logged, not fatal.
        """
        return self._core.on_frame(callback)

    @property
    def processor(self) -> Any:
        """The processor in use now."""
        return self._core.active.runner.processor

    @property
    def source(self) -> FrameSource:
        """The source read now."""
        return self._core.reader.source

    @property
    def state(self) -> PreviewState:
        """The current state."""
        return self._core.state

    @property
    def size(self) -> Size:
        """``(width, height)`` of the frames."""
        return self._core.size

    @property
    def frame_timeout(self) -> float:
        """Seconds one ``process()`` call may take."""
        return self._core.frame_timeout

    # -- helpers -------------------------------------------------------------------------

    async def _apause(self) -> None:
        self._core.pause()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return get_loop().run(coro, timeout)

    def _stop_timeout(self) -> float:
        return self._core.frame_timeout + 1.0 + CLOSE_WAIT + SHUTDOWN_TIMEOUT + 5.0

    def _swap_timeout(self) -> float:
        return _INIT + self._core.frame_timeout + SHUTDOWN_TIMEOUT

    def __enter__(self) -> PreviewEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"<PreviewEngine {self._core.active.runner.name} on "
            f"{self._core.reader.source.describe()}: {self._core.state.value}>"
        )
