"""The background work one panel owns: jobs off the kernel's thread and a periodic refresh.

A widget's button handler runs on the kernel's main thread; while it runs, the kernel
answers nothing (not even the widget messages of the next slider move). So a handler
that calls something slow (start a network, send a job, run a preflight) hands it to
:meth:`PanelWork.run` and returns at once; the job runs in a worker thread (through
``asyncio.to_thread`` on byoc_lab's background loop, so a job may itself call byoc_lab's
blocking methods), and its ``done`` callback updates the widgets when it finishes.

:meth:`PanelWork.every` runs a refresh function periodically the same way. Both are
tasks on the background loop that :meth:`PanelWork.close` cancels and awaits, in one
place (a refresh is told to stop, then awaited; cancelled if it hangs).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from byoc_lab.runtime import get_loop
from byoc_lab.tracebacks import describe_exception

__all__ = ["Outcome", "PanelWork", "describe_error"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How a job ended: its ``value``, or the ``error`` it raised (then value is None)."""

    value: T | None = None
    error: Exception | None = None


def describe_error(exc: BaseException) -> str:
    """One line for a panel's message: byoc_lab's own errors as they are, others with their type."""
    from byoc_lab.errors import ByocLabError

    if isinstance(exc, ByocLabError):
        return str(exc)
    return describe_exception(exc)


class PanelWork:
    """Jobs and a periodic refresh for one panel, on byoc_lab's background loop.

    Args:
        name: names the panel in log messages.

    Thread-safe. After :meth:`close`, :meth:`run` refuses new jobs (returns False).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._jobs: set[concurrent.futures.Future[None]] = set()
        self._ticker: concurrent.futures.Future[None] | None = None
        self._stop = asyncio.Event()
        self._closed = False

    @property
    def busy(self) -> bool:
        """True while a job started by :meth:`run` has not finished."""
        with self._lock:
            return bool(self._jobs)

    def run(self, job: Callable[[], T], done: Callable[[Outcome[T]], None]) -> bool:
        """Run ``job()`` in a worker thread, then ``done(outcome)`` in that thread.

        ``job`` may raise: the error reaches ``done`` as ``outcome.error``. An error in
        ``done`` itself is logged. Returns False (and runs nothing) after :meth:`close`.
        """
        with self._lock:
            if self._closed:
                return False
            future = get_loop().submit(self._job(job, done))
            self._jobs.add(future)
        future.add_done_callback(self._forget)
        return True

    def every(self, interval: float, refresh: Callable[[], None]) -> None:
        """Call ``refresh()`` (in a worker thread) now and then every ``interval`` seconds.

        An error in ``refresh`` is logged and the refresh goes on. Calling it again
        replaces nothing: one panel has one refresh.
        """
        with self._lock:
            if self._closed or self._ticker is not None:
                return
            self._ticker = get_loop().submit(self._tick(interval, refresh, self._stop))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is running; False if some still run after ``timeout`` s."""
        with self._lock:
            jobs = list(self._jobs)
        _, pending = concurrent.futures.wait(jobs, timeout=timeout)
        return not pending

    def close(self, timeout: float = 30.0) -> None:
        """Stop the refresh and wait (up to ``timeout`` s) for running jobs; idempotent.

        A job already running in its thread cannot be interrupted; close waits for it so
        that what it started (a network, say) is there for the owner to stop.
        """
        with self._lock:
            self._closed = True
            ticker, self._ticker = self._ticker, None
            jobs = list(self._jobs)
        loop = get_loop()
        if ticker is not None:
            loop.loop.call_soon_threadsafe(self._stop.set)
            if not loop.in_loop_thread():
                finished, _ = concurrent.futures.wait([ticker], timeout=timeout)
                if not finished:
                    ticker.cancel()
                    logger.warning("%s: the refresh did not stop within %g s", self._name, timeout)
        if jobs and not loop.in_loop_thread():
            _, pending = concurrent.futures.wait(jobs, timeout=timeout)
            if pending:
                logger.warning("%s: %d job(s) still running after close", self._name, len(pending))

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._jobs.discard(future)

    async def _job(self, job: Callable[[], T], done: Callable[[Outcome[T]], None]) -> None:
        try:
            outcome: Outcome[T] = Outcome(value=await asyncio.to_thread(job))
        except Exception as exc:  # noqa: BLE001 - task top: the error goes to done(), shown
            outcome = Outcome(error=exc)
        await asyncio.to_thread(self._call_done, done, outcome)

    def _call_done(self, done: Callable[[Outcome[Any]], None], outcome: Outcome[Any]) -> None:
        try:
            done(outcome)
        except Exception:  # task top: a widget update failed; log it, never propagate
            logger.exception("%s: updating the panel failed", self._name)

    async def _tick(
        self, interval: float, refresh: Callable[[], None], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(refresh)
            except Exception:  # task top: log it and keep refreshing
                logger.exception("%s: refresh failed", self._name)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()
