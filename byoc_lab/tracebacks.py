"""Naming where in the user's own code an exception happened, in one line.

Source text compiled by byoc_lab (the editor, a ``%%processor`` cell) gets a filename
from :func:`user_filename`, such as ``<byoc_lab:editor#3>``, registered with
:mod:`linecache` so tracebacks show its lines. :func:`describe_exception` turns an
exception into ``ZeroDivisionError: division by zero (line 7 of the editor)`` using the
innermost traceback frame in such text, or the innermost frame of any file otherwise.
"""

from __future__ import annotations

import itertools
import linecache
import traceback
from pathlib import Path

__all__ = ["USER_PREFIX", "describe_exception", "register_source", "user_filename", "user_line"]

USER_PREFIX = "<byoc_lab:"
_counter = itertools.count(1)


def user_filename(label: str) -> str:
    """A fresh filename for compiled source text, e.g. ``<byoc_lab:editor#3>``."""
    return f"{USER_PREFIX}{label}#{next(_counter)}>"


def register_source(filename: str, text: str) -> None:
    """Make ``text`` the lines :mod:`linecache` (and so tracebacks) show for ``filename``."""
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)


def _label(filename: str) -> str:
    if filename.startswith(USER_PREFIX):
        return "the " + filename[len(USER_PREFIX) :].rsplit("#", 1)[0]
    return Path(filename).name


def user_line(exc: BaseException) -> tuple[str, int] | None:
    """``(filename, line)`` of the innermost frame in byoc_lab-compiled text, if any."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith(USER_PREFIX) and frame.lineno is not None:
            return frame.filename, frame.lineno
    return None


def describe_exception(exc: BaseException) -> str:
    """One line: the exception's type and message, and the line it came from."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = user_line(exc)
    if where is None:
        frames = traceback.extract_tb(exc.__traceback__)
        if not frames or frames[-1].lineno is None:
            return text
        where = frames[-1].filename, frames[-1].lineno
    return f"{text} (line {where[1]} of {_label(where[0])})"
