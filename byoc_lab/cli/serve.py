"""``byoc-lab serve``: a processor as a BYOC worker process, optionally registered."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from byoc_lab.cli.common import flag_or_env, parse_params, size
from byoc_lab.errors import ByocLabError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    serve = sub.add_parser(
        "serve",
        help="serve a processor as a BYOC worker (what an orchestrator calls)",
        description="Serve a processor as a BYOC worker, optionally registering it with an "
        "orchestrator. Registration settings also come from pytrickle's environment "
        "variables: ORCH_URL, ORCH_SECRET, CAPABILITY_NAME, CAPABILITY_URL, "
        "CAPABILITY_CAPACITY, CAPABILITY_PRICE_PER_UNIT, CAPABILITY_PRICE_SCALING, "
        "CAPABILITY_DESCRIPTION (flags win).",
    )
    serve.add_argument("processor", help="FILE.py:Class or package.module:Class")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument("--capability", default=None, help="capability name (byoc_lab)")
    serve.add_argument("--capacity", type=int, default=None, help="concurrent streams (1)")
    serve.add_argument(
        "--frame-size", type=size, default=(640, 480), help="raw batch frame WIDTHxHEIGHT"
    )
    serve.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    serve.add_argument("--token-file", help="require this bearer token from callers")
    serve.add_argument(
        "--trickle-insecure",
        action="store_true",
        help="skip TLS verification of trickle URLs (go-livepeer's are self-signed)",
    )
    reg = serve.add_argument_group("registration with an orchestrator")
    reg.add_argument("--orch-url", help="orchestrator base URL, e.g. https://127.0.0.1:8935")
    reg.add_argument("--orch-secret-file", help="file holding the orchestrator's -orchSecret")
    reg.add_argument("--capability-url", help="URL the orchestrator uses to reach this worker")
    reg.add_argument("--price-per-unit", type=int, default=None)
    reg.add_argument("--price-scaling", type=int, default=None)
    reg.add_argument("--description", default=None)
    reg.add_argument(
        "--orch-insecure",
        action="store_true",
        help="skip TLS verification of the orchestrator (go-livepeer's is self-signed)",
    )
    reg.add_argument("--register-interval", type=float, default=60.0, help="seconds (60)")


def _read_secret(path: str | None) -> str | None:
    if path is not None:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ByocLabError(f"cannot read the secret file {path!r} ({exc.strerror})") from exc
    secret = os.environ.pop("ORCH_SECRET", None)  # keep it out of child processes
    return secret.strip() if secret else None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    from byoc_lab.loader import load_processor
    from byoc_lab.worker.core import WorkerConfig

    env = os.environ
    capability = args.capability or env.get("CAPABILITY_NAME") or "byoc_lab"
    token = Path(args.token_file).read_text().strip() if args.token_file else None
    config = WorkerConfig(
        capability=capability,
        capacity=flag_or_env(args.capacity, "CAPABILITY_CAPACITY", 1),
        frame_size=args.frame_size,
        token=token,
        trickle_verify_tls=not args.trickle_insecure,
    )
    processor = load_processor(args.processor, **parse_params(args.param))
    registration = None
    orch_url = args.orch_url or env.get("ORCH_URL")
    if orch_url:
        from byoc_lab.worker.registration import Registration

        host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        registration = Registration(
            orch_url=orch_url,
            secret=_read_secret(args.orch_secret_file) or "",
            name=capability,
            url=args.capability_url or env.get("CAPABILITY_URL") or f"http://{host}:{args.port}",
            capacity=config.capacity,
            price_per_unit=flag_or_env(args.price_per_unit, "CAPABILITY_PRICE_PER_UNIT", 0),
            price_scaling=flag_or_env(args.price_scaling, "CAPABILITY_PRICE_SCALING", 1),
            description=args.description or env.get("CAPABILITY_DESCRIPTION") or "",
            token=token,
            verify_tls=not args.orch_insecure,
        )
    from byoc_lab.worker.serve import serve_forever

    asyncio.run(
        serve_forever(
            processor,
            config,
            host=args.host,
            port=args.port,
            registration=registration,
            register_interval=args.register_interval,
        )
    )
    return 0
