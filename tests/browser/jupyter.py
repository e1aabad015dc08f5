"""A JupyterLab server for browser tests: started from the venv, isolated, stopped for sure.

:func:`running_jupyterlab` starts ``jupyter lab`` as a subprocess on 127.0.0.1 with a
random token, its own config, data, runtime, settings and workspace directories (so
nothing from the developer's home leaks in and no news prompt covers the page), and
``window.jupyterapp`` exposed so tests can run Lab commands. The server's port is read
back from its ``jpserver-<pid>.json`` info file, so a port race cannot point the tests
at someone else's server. Leaving the context shuts the kernels down and stops the
server: ``POST /api/shutdown``, then terminate, then kill, each with a bounded wait.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

VENV_BIN = Path(sys.executable).parent

# User settings that keep dialogs and toasts off the page and the notebooks untouched.
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


class JupyterLabError(AssertionError):
    """JupyterLab did not start, answer or stop as the tests need (with its log's tail)."""


@dataclass(frozen=True)
class JupyterLab:
    """A running JupyterLab: where it listens, its token, the notebook root, its log."""

    base_url: str  # http://127.0.0.1:PORT (no trailing slash)
    token: str
    root: Path  # ServerApp.root_dir: tests write their notebooks here
    log: Path  # the server's stdout and stderr (kernels' stderr too)

    def url(self, path: str) -> str:
        """``base_url/path`` with the token as a query parameter (for the browser)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, method: str, path: str, *, timeout: float = 10.0) -> Any:
        """Call the REST API (``/api/...``) with the token; the decoded JSON, or None."""
        request = urllib.request.Request(
            f"{self.base_url}/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel); used between tests."""
        for session in self.api("GET", "api/sessions"):
            self.api("DELETE", f"api/sessions/{session['id']}", timeout=30.0)
        for kernel in self.api("GET", "api/kernels"):
            self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=30.0)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log, for failure messages."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(cannot read {self.log}: {exc})"


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a notebook of code ``cells`` for the venv's ``python3`` kernel; return ``path``."""
    # nbformat has no type annotations; it validates what it writes, which is the point.
    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(text) for text in cells]  # type: ignore[no-untyped-call]
    nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
    return path


def lab_command(dirs: dict[str, Path]) -> list[str]:
    """The ``jupyter lab`` argv: loopback, ephemeral port, token, isolated settings."""
    token = dirs["token"].read_text()
    argv = [
        str(VENV_BIN / "jupyter"),
        "lab",
        "--ip=127.0.0.1",
        "--port=0",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={dirs['root']}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
        "--ServerApp.shutdown_no_activity_timeout=0",
    ]
    if os.getuid() == 0:
        argv.append("--allow-root")
    return argv


def _prepare(workdir: Path) -> dict[str, Path]:
    names = ["root", "config", "data", "runtime", "settings", "workspaces", "ipython"]
    dirs = {name: workdir / name for name in names}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for plugin, values in USER_SETTINGS.items():
        target = dirs["settings"] / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    dirs["token"] = workdir / "token"
    dirs["token"].write_text(secrets.token_hex(24))
    dirs["log"] = workdir / "jupyterlab.log"
    return dirs


def _environment(dirs: dict[str, Path]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        IPYTHONDIR=str(dirs["ipython"]),
        JUPYTER_PLATFORM_DIRS="0",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _wait_ready(process: subprocess.Popen[bytes], dirs: dict[str, Path], timeout: float) -> str:
    """Wait for the info file and a 200 from ``/api/status``; return the base URL."""
    info_file = dirs["runtime"] / f"jpserver-{process.pid}.json"
    token = dirs["token"].read_text()
    deadline = time.monotonic() + timeout
    last = "no info file yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = f"jupyter lab exited with status {process.returncode}"
            break
        if info_file.exists():
            try:
                port = json.loads(info_file.read_text())["port"]
                base = f"http://127.0.0.1:{port}"
                status = urllib.request.Request(
                    f"{base}/api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(status, timeout=2.0) as response:
                    if response.status == 200:
                        return base
            except (OSError, ValueError, KeyError) as exc:
                last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    tail = dirs["log"].read_text(errors="replace")[-3000:]
    raise JupyterLabError(
        f"JupyterLab did not become ready in {timeout:.0f} s ({last}); log:\n{tail}"
    )


def _stop(process: subprocess.Popen[bytes], lab: JupyterLab | None) -> None:
    """Shut kernels and server down politely, then terminate, then kill; always reaped."""
    if lab is not None and process.poll() is None:
        try:
            lab.shutdown_kernels()
            lab.api("POST", "api/shutdown")
        except (OSError, ValueError):
            pass  # the server is going away anyway; terminate/kill below
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15.0)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10.0)


@contextmanager
def running_jupyterlab(workdir: Path, *, startup_timeout: float = 90.0) -> Iterator[JupyterLab]:
    """Start JupyterLab with everything under ``workdir``; stop it (and its kernels) on exit.

    Raises:
        JupyterLabError: it exited or did not answer ``/api/status`` within
            ``startup_timeout`` seconds (the message carries the log's tail).
    """
    dirs = _prepare(workdir)
    lab: JupyterLab | None = None
    with dirs["log"].open("wb") as log:
        process = subprocess.Popen(
            lab_command(dirs),
            cwd=dirs["root"],
            env=_environment(dirs),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = _wait_ready(process, dirs, startup_timeout)
            lab = JupyterLab(base_url, dirs["token"].read_text(), dirs["root"], dirs["log"])
            yield lab
        finally:
            _stop(process, lab)
