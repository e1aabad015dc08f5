"""Waiting for SIGINT/SIGTERM inside a running loop (for command-line servers)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

__all__ = ["wait_for_shutdown_signal"]


async def wait_for_shutdown_signal() -> None:
    """Return when the process gets SIGINT or SIGTERM (``docker stop`` sends SIGTERM).

    Where signal handlers cannot be installed (not the main thread, Windows), this
    waits until cancelled.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
