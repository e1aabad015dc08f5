"""The quickstart's four terminals, headless: worker, orchestrator, gateway, client.

Run with ``make demo`` (or ``python examples/quickstart/demo.py``). Each service is a
separate ``byoc-lab`` process on the quickstart's ports (worker 8000, orchestrator
8936, gateway 8935, all on 127.0.0.1); the worker registers itself with the
orchestrator using the orchestrator's secret; then the quickstart's own
``send_job.py`` runs unchanged. Prints its three lines and the routing log, and exits
non-zero unless the green sum is 640*480*80 = 24,576,000.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXPECTED_SUM = 640 * 480 * 80
PORTS = {"worker": 8000, "orchestrator": 8936, "gateway": 8935}


def byoc_lab(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``byoc-lab ARGS`` with its output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "byoc_lab.cli", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(url: str, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until the service answers at all, or fail with the service's log."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, if only to say the request was incomplete
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{what} did not come up at {url}:\n{log.read_text()}")


def port_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def main() -> int:
    """Run the demo; the exit code says whether the green sum was right."""
    busy = [f"{name} port {port}" for name, port in PORTS.items() if not port_free(port)]
    if busy:
        print(f"demo: {', '.join(busy)} in use; stop what runs there (lsof -i :PORT)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="byoc_lab-demo-"))
    secret = work / "orch-secret"
    secret.write_text(secrets.token_hex(16))
    os.chmod(secret, 0o600)
    logs = {name: work / f"{name}.log" for name in PORTS}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        orch = byoc_lab(
            "orchestrator", "-orchestrator", "-network", "offchain",
            "-serviceAddr", "127.0.0.1:8936", "-orchSecret", str(secret),
            log=logs["orchestrator"],
        )  # fmt: skip
        procs.append(orch)
        wait_for("http://127.0.0.1:8936/process/token", "orchestrator", orch, logs["orchestrator"])
        worker = byoc_lab(
            "serve", "examples/green_tint.py:GreenTintProcessor",
            "--port", "8000", "--capability", "green-tint-cpu",
            "--orch-url", "http://127.0.0.1:8936", "--orch-secret-file", str(secret),
            log=logs["worker"],
        )  # fmt: skip
        procs.append(worker)
        wait_for("http://127.0.0.1:8000/health", "worker", worker, logs["worker"])
        gateway = byoc_lab(
            "gateway", "-gateway", "-network", "offchain", "-orchAddr", "127.0.0.1:8936",
            "-httpAddr", "127.0.0.1:8935", "-httpIngest",
            log=logs["gateway"],
        )  # fmt: skip
        procs.append(gateway)
        wait_for("http://127.0.0.1:8935/process/request/", "gateway", gateway, logs["gateway"])
        _wait_registered(logs["worker"], worker)
        job = subprocess.run(
            [sys.executable, str(HERE / "send_job.py")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        print(job.stdout, end="")
        if job.returncode != 0:
            print(job.stderr, file=sys.stderr)
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("\nRouting log:")
    routed = []
    for name in ("gateway", "orchestrator"):
        for line in logs[name].read_text().splitlines():
            if f"byoc_lab.network.{name}:" in line:
                routed.append((line[:23], name, line.split(": ", 1)[1]))
    for stamp, name, message in sorted(routed, key=lambda entry: entry[0]):  # stable
        print(f"  {stamp[11:]} [{name}] {message}")
    match = re.search(r"Green channel sum: (\d+)", job.stdout)
    total = int(match.group(1)) if match else None
    if total != EXPECTED_SUM:
        print(f"\ndemo FAILED: green sum {total}, expected {EXPECTED_SUM:,}")
        return 1
    print(
        f"\ndemo OK: green sum {total:,} = 640*480*80 (the original quickstart printed 7,372,800)"
    )
    return 0


def _wait_registered(log: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while "registered capability 'green-tint-cpu'" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"worker did not register:\n{log.read_text()}")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
