"""The ``byoc-lab`` command. The only module that reads environment variables."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .errors import ByocLabError

__all__ = ["main"]


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}")
    return int(width), int(height)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byoc-lab",
        description="Build, check, serve and export Livepeer BYOC video processors.",
    )
    parser.add_argument("--version", action="version", version=f"byoc_lab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    check.add_argument("--size", type=_size, default=(640, 480), help="WIDTHxHEIGHT (640x480)")
    check.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a declared parameter (repeatable)",
    )
    trickle = sub.add_parser(
        "trickle",
        help="run a standalone trickle server (channels auto-created on first publish)",
        description="Serve trickle channels like http-trickle's server, on loopback by default.",
    )
    trickle.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    trickle.add_argument("--port", type=int, default=2939, help="port to listen on (2939)")
    trickle.add_argument("--base-path", default="/", help="URL prefix of the channels (/)")
    trickle.add_argument(
        "--no-autocreate",
        action="store_true",
        help="refuse publishes to channels that were not created explicitly",
    )
    return parser


def _run_trickle(args: argparse.Namespace) -> int:
    from aiohttp import web

    from .trickle import TrickleServer, TrickleServerConfig

    server = TrickleServer(TrickleServerConfig(autocreate=not args.no_autocreate))
    app = web.Application()
    server.setup(app, base_path=args.base_path)
    base = args.base_path.rstrip("/")
    logging.getLogger("byoc_lab.cli").info(
        "trickle server on http://%s:%d%s/{channel}/{seq} (auto-create %s); Ctrl+C stops it",
        args.host,
        args.port,
        base,
        "off" if args.no_autocreate else "on",
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from .check import check_processor
    from .loader import load_processor

    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise ByocLabError("a --param needs NAME=VALUE", got=repr(item))
        params[name] = value
    processor = load_processor(args.processor, **params)
    width, height = args.size
    report = check_processor(processor, args.source, frames=args.frames, width=width, height=height)
    print(report.table())
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``byoc-lab``; returns the process exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "check":
            return _run_check(args)
        if args.command == "trickle":
            return _run_trickle(args)
    except ByocLabError as exc:
        print(f"byoc-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
