"""``byoc-lab check``: run a processor on sample frames and print a report."""

from __future__ import annotations

import argparse
from typing import Any

from byoc_lab.cli.common import parse_params, size

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``check`` subcommand."""
    check = sub.add_parser(
        "check",
        help="run a processor on sample frames and report timing and errors",
        description="Run a processor on sample frames, validate every output, report timing.",
    )
    check.add_argument("processor", help="FILE.py:Class or package.module:Class")
    check.add_argument(
        "--source",
        default="synthetic",
        help="synthetic[:bars|gradient|checker|solid], webcam[:N], auto, a video or image file",
    )
    check.add_argument("--frames", type=int, default=30, help="frames to run (default 30)")
    check.add_argument("--size", type=size, default=(640, 480), help="WIDTHxHEIGHT (640x480)")
    check.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="set a parameter"
    )


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every frame passed, 1 otherwise."""
    from byoc_lab.check import check_processor
    from byoc_lab.loader import load_processor

    processor = load_processor(args.processor, **parse_params(args.param))
    width, height = args.size
    report = check_processor(processor, args.source, frames=args.frames, width=width, height=height)
    print(report.table())
    return 0 if report.ok else 1
