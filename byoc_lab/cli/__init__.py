"""The ``byoc-lab`` command. This package is the only code that reads environment variables.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> exit code``. Errors byoc_lab raises on purpose print as one line and
exit 2; a run whose checks fail exits 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from byoc_lab import __version__
from byoc_lab.cli import check, export, network, serve, trickle
from byoc_lab.errors import ByocLabError

__all__ = ["main"]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": check.run,
    "export": export.run,
    "serve": serve.run,
    "trickle": trickle.run,
    "orchestrator": network.run_orchestrator,
    "gateway": network.run_gateway,
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for documentation tests)."""
    parser = argparse.ArgumentParser(
        prog="byoc-lab",
        description="Build, check, serve and export Livepeer BYOC video processors.",
    )
    parser.add_argument("--version", action="version", version=f"byoc_lab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check.add_parser(sub)
    serve.add_parser(sub)
    export.add_parser(sub)
    trickle.add_parser(sub)
    network.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``byoc-lab``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _COMMANDS[args.command](args)
    except ByocLabError as exc:
        print(f"byoc-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
