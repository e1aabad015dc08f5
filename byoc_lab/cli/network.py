"""``byoc-lab orchestrator`` and ``byoc-lab gateway``: the quickstart's other terminals.

They take go-livepeer's real flag names where go-livepeer has them (``-serviceAddr``,
``-orchAddr``, ``-httpAddr``, ``-orchSecret``, ``-network offchain``, and the
``-orchestrator``/``-gateway``/``-httpIngest`` switches, accepted and implied), with
the quickstart's ports as defaults: orchestrator 8936, gateway 8935. The seed
quickstart's ``-byoc``/``-byocContainerURL``/``-byocModelID`` do not exist in
go-livepeer; here a static registration is ``--capability green-tint-cpu=URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from byoc_lab.errors import ByocLabError

__all__ = ["add_parsers", "run_gateway", "run_orchestrator"]

logger = logging.getLogger(__name__)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:8936, got {text!r}")
    return host or "127.0.0.1", int(port)


def _common(parser: argparse.ArgumentParser, role: str) -> None:
    parser.add_argument(
        f"-{role}", action="store_true", dest="role_switch", help=f"accepted ({role} is implied)"
    )
    parser.add_argument(
        "-network",
        "--network",
        default="offchain",
        help="only 'offchain': on-chain networks need go-livepeer itself",
    )
    parser.add_argument("-v", dest="go_verbosity", help="accepted for go-livepeer compatibility")


def add_parsers(sub: Any) -> None:
    """Add the ``orchestrator`` and ``gateway`` subcommands."""
    orch = sub.add_parser(
        "orchestrator",
        help="run an offchain BYOC orchestrator (workers register here)",
        description="An offchain BYOC orchestrator speaking go-livepeer's wire format.",
    )
    _common(orch, "orchestrator")
    orch.add_argument(
        "-serviceAddr",
        "--service-addr",
        type=_host_port,
        default=("127.0.0.1", 8936),
        help="HOST:PORT to listen on (127.0.0.1:8936)",
    )
    orch.add_argument(
        "-orchSecret",
        "--orch-secret",
        help="the registration secret, or a file holding it (generated when omitted)",
    )
    orch.add_argument(
        "--capability",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="register a worker statically, e.g. green-tint-cpu=http://127.0.0.1:8000",
    )
    orch.add_argument("--public-url", help="base URL others reach it at (default: listen URL)")

    gw = sub.add_parser(
        "gateway",
        help="run a BYOC gateway (clients send jobs and streams here)",
        description="A BYOC gateway speaking go-livepeer's wire format.",
    )
    _common(gw, "gateway")
    gw.add_argument(
        "-orchAddr",
        "--orch-addr",
        default="127.0.0.1:8936",
        help="orchestrators, comma-separated HOST:PORT or URLs (127.0.0.1:8936)",
    )
    gw.add_argument(
        "-httpAddr",
        "--http-addr",
        type=_host_port,
        default=("127.0.0.1", 8935),
        help="HOST:PORT to listen on (127.0.0.1:8935)",
    )
    gw.add_argument("-httpIngest", action="store_true", help="accepted (always on here)")


def _check_network(args: argparse.Namespace) -> None:
    if args.network != "offchain":
        raise ByocLabError(
            f"-network {args.network} is not supported by byoc_lab",
            expected="-network offchain",
            fix="run go-livepeer itself for on-chain networks; point GatewayClient at it",
        )


def _orch_urls(text: str) -> tuple[str, ...]:
    urls = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        # go-livepeer assumes https:// and port 8935; byoc_lab's orchestrator is plain HTTP.
        urls.append(item if "://" in item else f"http://{item}")
    if not urls:
        raise ByocLabError("-orchAddr names no orchestrator", got=repr(text))
    return tuple(urls)


def run_orchestrator(args: argparse.Namespace) -> int:
    """Serve an orchestrator until SIGINT/SIGTERM."""
    from byoc_lab.network import Capability, OrchestratorConfig, OrchestratorServer, load_secret

    _check_network(args)
    host, port = args.service_addr
    config = OrchestratorConfig(
        secret=load_secret(args.orch_secret) if args.orch_secret else None,
        capabilities=tuple(Capability.from_spec(spec) for spec in args.capability),
        service_url=args.public_url,
    )
    asyncio.run(_serve(OrchestratorServer(config), host, port))
    return 0


def run_gateway(args: argparse.Namespace) -> int:
    """Serve a gateway until SIGINT/SIGTERM."""
    from byoc_lab.network import GatewayConfig, GatewayServer

    _check_network(args)
    host, port = args.http_addr
    server = GatewayServer(GatewayConfig(orchestrators=_orch_urls(args.orch_addr)))
    asyncio.run(_serve(server, host, port))
    return 0


async def _serve(server: Any, host: str, port: int) -> None:
    from byoc_lab.signals import wait_for_shutdown_signal

    await server.start(host=host, port=port)
    try:
        await wait_for_shutdown_signal()
    finally:
        await server.stop()
