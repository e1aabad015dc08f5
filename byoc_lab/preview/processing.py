"""Calling the preview's processor on one frame, bounded in time, and retiring it.

One bad frame never stops a preview: ``process()`` raising gives a frame without an
output and a one-line error. A ``process()`` that overruns the frame timeout marks
its processor *hung*: a sync one is still running in its thread and must not be
called again, so following frames pass through unprocessed, with an error saying
so, until a new processor is swapped in. A hung processor is abandoned, never
waited for.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum

from byoc_lab.frames import RGBImage
from byoc_lab.preview.hang import describe_site, hang_site
from byoc_lab.runner import ProcessorRunner
from byoc_lab.tracebacks import describe_exception

__all__ = ["ActiveProcessor", "FrameResult", "Outcome", "process_frame", "retire"]

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0
"""Seconds a retired processor's ``shutdown()`` may take before it is given up on."""


class Outcome(Enum):
    """What happened to one frame."""

    OK = "ok"
    RAISED = "raised"
    TIMED_OUT = "timed out"
    HUNG = "hung"  # not called: an earlier call still runs


@dataclass(eq=False)
class ActiveProcessor:
    """A processor as the preview runs it.

    Attributes:
        runner: the processor under its contract.
        initialized: ``initialize()`` has returned (so ``shutdown()`` is owed).
        hung_since: index of the frame whose ``process()`` timed out, else None.
        hang_error: the error every following frame carries while hung.
    """

    runner: ProcessorRunner
    initialized: bool = False
    hung_since: int | None = None
    hang_error: str | None = None

    async def initialize(self) -> None:
        """Run ``initialize()`` once (raises whatever it raises; then not initialized)."""
        if not self.initialized:
            await self.runner.initialize()
            self.initialized = True


@dataclass(frozen=True)
class FrameResult:
    """The result of :func:`process_frame`."""

    output: RGBImage | None
    process_ms: float | None
    error: str | None
    outcome: Outcome


async def process_frame(
    active: ActiveProcessor, image: RGBImage, index: int, seconds: float
) -> FrameResult:
    """Run ``process()`` on a copy of ``image`` within ``seconds``.

    Never raises for what the processor does (cancellation still propagates): an
    exception becomes ``error`` (``describe_exception``: type, message, line); an
    overrun marks ``active`` hung (see the module docstring).
    """
    if active.hung_since is not None:
        return FrameResult(None, None, active.hang_error, Outcome.HUNG)
    runner = active.runner
    try:
        async with asyncio.timeout(seconds) as deadline:
            output, took = await runner.timed_process(image.copy(), index=index)
    except TimeoutError as exc:
        if not deadline.expired():  # process() itself raised TimeoutError
            return FrameResult(None, None, describe_exception(exc), Outcome.RAISED)
        return FrameResult(None, None, _mark_hung(active, exc, index, seconds), Outcome.TIMED_OUT)
    except Exception as exc:  # noqa: BLE001 - user code: one bad frame never stops the preview
        return FrameResult(None, None, describe_exception(exc), Outcome.RAISED)
    return FrameResult(output, took * 1000.0, None, Outcome.OK)


def _mark_hung(active: ActiveProcessor, exc: TimeoutError, index: int, timeout: float) -> str:
    runner = active.runner
    where = describe_site(hang_site(runner.processor, exc))
    error = f"{runner.name}.process() did not return within {float(timeout)} s on frame {index}"
    error += where
    active.hung_since = index
    # A sync process() keeps running in its thread; an async one was cancelled. Either
    # way it is not called again: it would most likely hang again.
    state = "has hung (cancelled, not called again)" if runner.is_async else "is still running"
    active.hang_error = (
        f"{runner.name}.process() {state} since frame {index}{where}; Apply a fixed processor"
    )
    logger.warning(
        "%s; frames pass through unprocessed until another processor is swapped in", error
    )
    return error


async def retire(active: ActiveProcessor, *, shutdown_within: float = SHUTDOWN_TIMEOUT) -> None:
    """Shut ``active`` down after its frame in flight; abandon it if it is hung.

    A hung processor's lock is never waited for and its ``shutdown()`` is not
    called (its ``process()`` may still be running in a thread); that is logged.
    ``shutdown()`` raising or overrunning ``shutdown_within`` seconds is logged, not raised.
    """
    if not active.initialized:
        return
    runner = active.runner
    if active.hung_since is None:
        async with runner.lock:  # the frame in flight (bounded by the frame timeout)
            pass
    if active.hung_since is not None:
        logger.warning(
            "abandoning %s: its process() has not returned since frame %d, so its "
            "shutdown() is not called",
            runner.name,
            active.hung_since,
        )
        return
    active.initialized = False
    try:
        async with asyncio.timeout(shutdown_within):
            await runner.shutdown()
    except TimeoutError:
        logger.warning("%s.shutdown() did not return within %s s", runner.name, shutdown_within)
    except Exception as exc:  # noqa: BLE001 - user code at shutdown: report, carry on
        logger.warning("%s.shutdown() raised %s", runner.name, describe_exception(exc))
