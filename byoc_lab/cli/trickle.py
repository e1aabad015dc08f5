"""``byoc-lab trickle``: a standalone trickle server, like http-trickle's."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``trickle`` subcommand."""
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


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from aiohttp import web

    from byoc_lab.trickle import TrickleServer, TrickleServerConfig

    server = TrickleServer(TrickleServerConfig(autocreate=not args.no_autocreate))
    app = web.Application()
    server.setup(app, base_path=args.base_path)
    logging.getLogger(__name__).info(
        "trickle server on http://%s:%d%s/{channel}/{seq} (auto-create %s); Ctrl+C stops it",
        args.host,
        args.port,
        args.base_path.rstrip("/"),
        "off" if args.no_autocreate else "on",
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0
