"""Security: every server listens on 127.0.0.1 unless told otherwise; images run as non-root.

Promises:

- Every byoc_lab server started with its defaults (each :class:`AppServer` subclass,
  the notebook's ``Worker`` and ``LocalNetwork``, ``run_processor``, and the
  ``byoc-lab serve|orchestrator|gateway|trickle`` commands) accepts connections on
  127.0.0.1 only: the kernel's table of listening sockets shows nothing else on its
  port. A new server class without an entry here fails the coverage test.
- Every exported Dockerfile (both targets, CPU and CUDA bases) ends as a numeric,
  non-zero ``USER`` created by its ``useradd``, with no ``USER`` after it, before the
  ENTRYPOINT; and the exported ENTRYPOINT runs, healthy and processing, as that uid in
  the read-only context directory.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from dockerfile_parse import DockerfileParser

import byoc_lab.network
import byoc_lab.worker
from byoc_lab import LocalNetwork, Worker
from byoc_lab.builtins import GreenTint
from byoc_lab.cli import build_parser
from byoc_lab.export import ContainerSpec, render_dockerfile, resolve_base
from byoc_lab.export.api import export
from byoc_lab.serving import AppServer
from byoc_lab.worker.server import run_processor

ROOT = Path(__file__).resolve().parents[2]
BYOC_LAB = Path(sys.executable).with_name("byoc-lab")
PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
pytestmark = pytest.mark.skipif(not PROC_NET[0].exists(), reason="needs Linux /proc/net/tcp")

SERVERS: dict[str, Callable[[], AppServer]] = {
    "WorkerServer": lambda: byoc_lab.worker.WorkerServer(GreenTint()),
    "OrchestratorServer": lambda: byoc_lab.network.OrchestratorServer(
        byoc_lab.network.OrchestratorConfig(secret="x")
    ),
    "GatewayServer": lambda: byoc_lab.network.GatewayServer(),
}
if importlib.util.find_spec("byoc_lab.trickle.host") is not None:  # the fault tests' server
    _host = importlib.import_module("byoc_lab.trickle.host")
    SERVERS["TrickleHost"] = lambda: _host.TrickleHost()


def listening(port: int) -> set[str]:
    """Addresses with a socket listening on TCP ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in PROC_NET:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _subclasses(cls: type) -> Iterator[type]:
    subclass: type
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def test_every_server_class_is_checked() -> None:
    names = {
        cls.__name__ for cls in _subclasses(AppServer) if cls.__module__.startswith("byoc_lab")
    }
    assert names == set(SERVERS), "add a default-constructed instance of each server to SERVERS"


@pytest.mark.parametrize("name", sorted(SERVERS))
async def test_servers_listen_on_loopback_by_default(name: str) -> None:
    server = SERVERS[name]()
    await server.start()
    try:
        assert listening(server.port) == {"127.0.0.1"}
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        await server.stop()
    assert listening(server.port) == set()


def test_notebook_worker_and_local_network_listen_on_loopback() -> None:
    with Worker(GreenTint()) as worker:
        assert listening(worker.port) == {"127.0.0.1"}
    with LocalNetwork(GreenTint(), capability="tint") as net:
        urls = (net.worker_url, net.orchestrator_url, net.gateway_url)
        for url in urls:
            assert listening(int(url.rsplit(":", 1)[1])) == {"127.0.0.1"}, url


async def test_run_processor_listens_on_loopback() -> None:
    port = free_port()
    task = asyncio.create_task(run_processor(GreenTint(), port=port))
    try:
        for _ in range(250):
            if listening(port) or task.done():
                break
            await asyncio.sleep(0.02)
        assert listening(port) == {"127.0.0.1"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_cli_defaults_are_loopback() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve", "x.py:P"]).host == "127.0.0.1"
    assert parser.parse_args(["trickle"]).host == "127.0.0.1"
    assert parser.parse_args(["orchestrator"]).service_addr == ("127.0.0.1", 8936)
    assert parser.parse_args(["gateway"]).http_addr == ("127.0.0.1", 8935)


async def test_cli_servers_listen_on_loopback_by_default() -> None:
    """Each command with only a port given (``:PORT`` leaves the host to the default)."""
    quickstart = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"
    ports = [free_port() for _ in range(4)]
    commands = [
        ["serve", quickstart, "--port", str(ports[0])],
        ["orchestrator", "-serviceAddr", f":{ports[1]}", "-orchSecret", "x"],
        ["gateway", "-httpAddr", f":{ports[2]}", "-orchAddr", "127.0.0.1:9"],
        ["trickle", "--port", str(ports[3])],
    ]
    procs = [
        await asyncio.create_subprocess_exec(
            str(BYOC_LAB), *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for argv in commands
    ]
    try:
        for _ in range(1000):  # up to 20 s: `serve` imports PyAV and numpy first
            if all(listening(p) for p in ports) or any(p.returncode is not None for p in procs):
                break
            await asyncio.sleep(0.02)
        for argv, port in zip(commands, ports, strict=True):
            assert listening(port) == {"127.0.0.1"}, argv
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.mark.parametrize("target", ["byoc_lab", "pytrickle"])
@pytest.mark.parametrize("base", ["cpu", "cuda"])
def test_exported_images_run_as_a_numeric_non_root_user(target: str, base: str) -> None:
    spec = ContainerSpec(
        class_name="P",
        capability="tint",
        target=target,  # type: ignore[arg-type]
        base=resolve_base(base),
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Dockerfile").write_text(render_dockerfile(spec))
        structure = DockerfileParser(str(Path(tmp) / "Dockerfile")).structure
    steps = [(item["instruction"], item["value"]) for item in structure]
    users = [i for i, (kind, _) in enumerate(steps) if kind == "USER"]
    assert users, "no USER: the image would run as root"
    user = steps[users[-1]][1].strip()
    assert user.isdigit(), user
    assert int(user) > 0, user
    assert all(steps[i][1].strip() == user for i in users)  # never root in between
    assert f"--uid {user}" in " ".join(value for kind, value in steps if kind == "RUN")
    runs_after = {kind for kind, _ in steps[users[-1] + 1 :]}
    assert not runs_after & {"RUN", "USER"}
    assert {kind for kind, _ in steps[users[-1] :]} >= {"ENTRYPOINT"}


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None, reason="no setpriv")
async def test_the_exported_entrypoint_runs_without_root() -> None:
    """The context's ENTRYPOINT, run as uid 10001 in the (root-owned) context directory."""
    top = Path(tempfile.mkdtemp(prefix="byoc-nonroot-"))
    try:
        port = free_port()
        context, user, argv, env = _container_like(top, port)
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=context, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            await _assert_serves(proc, port)
            uids = _uids(proc.pid)
            assert set(uids) == {user if os.geteuid() == 0 else str(os.geteuid())}
            assert "0" not in uids
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert b"Traceback" not in err, err.decode()[-2000:]
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _container_like(top: Path, port: int) -> tuple[Path, str, list[str], dict[str, str]]:
    """Export the quickstart under ``top``; return what running it as its image would.

    That is the context directory, the image's USER, the ENTRYPOINT (listening on
    127.0.0.1:``port``, under ``setpriv`` as that USER when this process is root) and
    the image's environment, with a HOME the USER owns.
    """
    top.chmod(0o755)  # mkdtemp's 0700 would lock the user out of the context
    context = top / "context"
    quickstart = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"
    export(quickstart, context, capability="green-tint-cpu")
    parsed = DockerfileParser(str(context / "Dockerfile"))
    user = next(i["value"] for i in reversed(parsed.structure) if i["instruction"] == "USER")
    argv = _entrypoint(parsed, port)
    home = top / "home"
    home.mkdir()
    env = {**parsed.envs, "HOME": str(home), "PATH": f"{BYOC_LAB.parent}:/usr/bin:/bin"}
    if os.geteuid() == 0:
        os.chown(home, int(user), int(user))
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    return context, user, argv, env


def _uids(pid: int) -> list[str]:
    """Real, effective, saved and filesystem uids of process ``pid``."""
    return Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:4]


def _entrypoint(parsed: DockerfileParser, port: int) -> list[str]:
    value = next(i["value"] for i in reversed(parsed.structure) if i["instruction"] == "ENTRYPOINT")
    argv: list[str] = json.loads(value)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    argv[0] = str(BYOC_LAB.with_name(argv[0]))
    return argv


async def _assert_serves(proc: Any, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(1500):  # up to 30 s for PyAV and numpy to import
            assert proc.returncode is None, "the entrypoint exited"
            try:
                async with http.get(url + "/health") as r:
                    if (await r.json())["status"] == "IDLE":
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
        frame = bytes(640 * 480 * 3)
        async with http.post(url + "/", data=frame) as r:
            assert r.status == 200
            image = np.frombuffer(await r.read(), np.uint8).reshape(480, 640, 3)
    assert int(image[:, :, 1].sum()) == 640 * 480 * 80  # the quickstart's green sum
