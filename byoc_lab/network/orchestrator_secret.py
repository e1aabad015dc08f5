"""The orchestrator secret: workers present it to register their capabilities.

go-livepeer's ``-orchSecret`` is a value or the path of a file holding it. An
orchestrator started without one refuses every registration; byoc_lab's instead
generates a random secret and writes it to a file only its user can read (mode 0600,
in a 0700 runtime directory), as Jupyter does with its tokens, and logs the file's
path, never the secret.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from byoc_lab.errors import ParamError

__all__ = ["default_runtime_dir", "generate_secret", "load_secret", "write_secret_file"]


def generate_secret() -> str:
    """A new random secret (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def default_runtime_dir() -> Path:
    """Where generated secrets go: ``~/.local/share/byoc_lab/runtime`` (like Jupyter's)."""
    return Path.home() / ".local" / "share" / "byoc_lab" / "runtime"


def write_secret_file(secret: str, directory: Path | None = None) -> Path:
    """Write ``secret`` to a new file readable by the current user only; return its path.

    The directory is created with mode 0700 if missing; the file is created exclusively
    with mode 0600, named ``orchestrator-{pid}-{random}.secret``.

    Raises:
        OSError: the directory or file cannot be created.
    """
    folder = directory if directory is not None else default_runtime_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"orchestrator-{os.getpid()}-{secrets.token_hex(3)}.secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return path


def load_secret(value: str) -> str:
    """The secret named by ``value``, read the way go-livepeer reads ``-orchSecret``.

    If ``value`` is the path of an existing file, the file's content (stripped) is the
    secret; otherwise ``value`` itself is.

    Raises:
        ParamError: the resulting secret is empty.
    """
    path = Path(value)
    secret = value
    try:
        if value and path.is_file():
            secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ParamError(f"cannot read the orchestrator secret file {value}: {exc}") from exc
    if not secret:
        raise ParamError(
            "the orchestrator secret is empty",
            fix="give a non-empty secret, or none at all to have one generated",
        )
    return secret
