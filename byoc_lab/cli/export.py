"""``byoc-lab export``: a processor to a Docker build context for a BYOC worker."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``export`` subcommand."""
    export = sub.add_parser(
        "export",
        help="write a Docker build context that runs a processor as a BYOC worker",
        description="Write a Docker build context (Dockerfile, processor.py, pinned "
        "requirements.txt, the byoc_lab wheel, README.md, register.env.example, "
        "compose.yml) that runs the processor as a Livepeer BYOC worker. The processor is "
        "checked in a clean interpreter first; nothing is written if a check fails.",
    )
    export.add_argument("processor", help="FILE.py:Class, FILE.py, or package.module:Class")
    export.add_argument("dest", help="directory to create (or an empty one)")
    export.add_argument(
        "--target",
        choices=["byoc_lab", "pytrickle"],
        default="byoc_lab",
        help="runtime in the image: byoc_lab's worker (default) or pytrickle 0.1.6",
    )
    export.add_argument(
        "--base",
        default="cpu",
        help="cpu (python:3.11-slim, default), cuda (nvidia/cuda:12.8.1-cudnn-runtime-"
        "ubuntu24.04), or an image reference with a tag",
    )
    export.add_argument(
        "--capability", help="capability name to register (default: from the class name)"
    )
    export.add_argument(
        "--requirement",
        "-r",
        action="append",
        default=[],
        metavar="LINE",
        help="an extra requirements.txt line, e.g. scipy==1.14.1 (repeatable)",
    )
    export.add_argument("--port", type=int, default=8000, help="port in the container (8000)")
    export.add_argument("--tag", help="image tag (default: CAPABILITY:latest)")
    export.add_argument(
        "--overwrite", action="store_true", help="replace DEST if it holds an earlier export"
    )
    export.add_argument(
        "--build", action="store_true", help="then run docker build, where an engine answers"
    )
    export.add_argument(
        "--preflight-timeout",
        type=float,
        default=120.0,
        help="seconds the clean-interpreter check may take (120)",
    )


def run(args: argparse.Namespace) -> int:
    """Export, print what was written and what to run next; 0 on success."""
    from byoc_lab.export.api import export

    result = export(
        args.processor,
        args.dest,
        target=args.target,
        base=args.base,
        capability=args.capability,
        requirements=args.requirement,
        port=args.port,
        overwrite=args.overwrite,
        build=args.build,
        tag=args.tag,
        preflight_timeout=args.preflight_timeout,
    )
    print(result.summary())
    return 0
