"""The background event loop that hosts byoc_lab's services inside a kernel.

Jupyter already runs an event loop in the kernel's main thread, so byoc_lab never
calls ``asyncio.run()`` there and never needs ``nest_asyncio``. Instead one daemon
thread runs one asyncio loop for the whole process; servers, previews and streams
live on it. Sync handles submit coroutines to it and wait with a timeout, so a cell
returns promptly and a blocking client in the same kernel (``requests.post`` to the
kernel's own worker) works: the server answers from the other thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import RuntimeStateError

__all__ = ["BackgroundLoop", "get_loop", "run_async", "run_sync"]

T = TypeVar("T")


class BackgroundLoop:
    """One asyncio loop running forever in a daemon thread.

    The thread starts on first use. :meth:`run` blocks the calling thread until the
    coroutine finishes; :meth:`submit` returns a ``concurrent.futures.Future``.
    """

    def __init__(self, name: str = "byoc_lab-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (started on first access)."""
        with self._lock:
            if self._loop is None:
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def _run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=_run, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def in_loop_thread(self) -> bool:
        """True when called from the loop's own thread (where :meth:`run` would deadlock)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop and return a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on this loop from any loop (directly when already on it)."""
        if self.in_loop_thread():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result.

        Raises:
            RuntimeStateError: called from the loop's own thread (use ``await``).
            TimeoutError: the result did not arrive within ``timeout`` seconds; the
                coroutine is cancelled.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeStateError(
                "a blocking byoc_lab call was made from byoc_lab's own event loop",
                fix="use the async twin (await ...) inside coroutines",
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            # Since Python 3.11 this is the builtin TimeoutError, so it may be the
            # coroutine's own (a JobTimeoutError, say): a finished coroutine's outcome
            # stands, whatever it is.
            if future.done():
                return future.result()
            future.cancel()
            raise TimeoutError(f"byoc_lab call did not finish within {timeout} s") from None


_DEFAULT = BackgroundLoop()


def get_loop() -> BackgroundLoop:
    """Return the process-wide background loop."""
    return _DEFAULT


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the process-wide background loop and return its result."""
    return _DEFAULT.run(coro, timeout)


async def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the process-wide background loop, from any running loop."""
    return await _DEFAULT.run_async(coro)
