"""Argument types and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import os

from byoc_lab.errors import ByocLabError

__all__ = ["flag_or_env", "parse_params", "size"]


def size(text: str) -> tuple[int, int]:
    """``640x480`` → ``(640, 480)`` (an argparse type)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}")
    return int(width), int(height)


def parse_params(items: list[str]) -> dict[str, str]:
    """``["boost=20"]`` → ``{"boost": "20"}``; values are validated by the processor."""
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ByocLabError("a --param needs NAME=VALUE", got=repr(item))
        params[name] = value
    return params


def flag_or_env(flag: int | None, name: str, default: int) -> int:
    """The flag's value if given, else the environment variable's, else ``default``."""
    if flag is not None:
        return flag
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        raise ByocLabError(
            f"environment variable {name} must be a whole number", got=text
        ) from None
