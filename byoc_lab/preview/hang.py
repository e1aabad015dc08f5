"""Finding the line a timed-out ``process()`` is stuck on, for the timeout message.

An async ``process`` is cancelled by the timeout: the cancellation's traceback runs
through the ``await`` it was suspended on. A sync ``process`` keeps running in its
worker thread: its current line is read from that thread's stack. Lines in text
byoc_lab compiled (the editor, a ``%%processor`` cell) win over any other file.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from types import CodeType, FrameType, TracebackType

from byoc_lab.tracebacks import USER_PREFIX

__all__ = ["describe_site", "hang_site"]

Site = tuple[str, int]


def hang_site(processor: object, timeout_error: BaseException) -> Site | None:
    """``(filename, line)`` where ``processor.process`` was when it timed out, if known.

    Args:
        processor: the processor whose ``process`` overran.
        timeout_error: the ``TimeoutError`` raised by ``asyncio.timeout``.
    """
    code = _process_code(processor)
    cancelled = timeout_error.__cause__ or timeout_error.__context__
    if cancelled is not None:
        site = _site_in(_traceback_lines(cancelled.__traceback__), code)
        if site is not None:
            return site
    return _site_in_threads(code) if code is not None else None


def describe_site(site: Site | None) -> str:
    """`` (line 7 of the editor)`` / `` (line 12 of my_proc.py)``, or "" when unknown."""
    if site is None:
        return ""
    filename, line = site
    if filename.startswith(USER_PREFIX):
        label = "the " + filename[len(USER_PREFIX) :].rsplit("#", 1)[0]
    else:
        label = Path(filename).name
    return f" (line {line} of {label})"


def _process_code(processor: object) -> CodeType | None:
    process = getattr(processor, "process", None)
    function = getattr(process, "__func__", process)
    try:
        function = inspect.unwrap(function) if function is not None else None
    except ValueError:  # a cycle of __wrapped__
        return None
    code = getattr(function, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _site_in(lines: list[tuple[CodeType, int | None]], code: CodeType | None) -> Site | None:
    """The innermost line in compiled user text, else the innermost in ``process``."""
    for frame_code, line in reversed(lines):
        if frame_code.co_filename.startswith(USER_PREFIX) and line is not None:
            return frame_code.co_filename, line
    for frame_code, line in reversed(lines):
        if frame_code is code and line is not None:
            return frame_code.co_filename, line
    return None


def _traceback_lines(tb: TracebackType | None) -> list[tuple[CodeType, int | None]]:
    lines: list[tuple[CodeType, int | None]] = []
    while tb is not None:
        lines.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    return lines


def _site_in_threads(code: CodeType) -> Site | None:
    for top in sys._current_frames().values():
        stack = _stack(top)
        if any(frame.f_code is code for frame in stack):
            return _site_in([(f.f_code, f.f_lineno) for f in stack], code)
    return None


def _stack(top: FrameType) -> list[FrameType]:
    """Frames from outermost to innermost (``top`` is the innermost)."""
    frames: list[FrameType] = []
    frame: FrameType | None = top
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    return frames
