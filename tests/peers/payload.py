"""Deterministic segment payloads shared by byoc_lab tests and peer scripts.

Imported both by tests (as ``peers.payload``) and by peer scripts running in another
venv (as ``payload``), so it uses only the standard library.
"""

from __future__ import annotations

import hashlib


def segment_bytes(seed: str, index: int, size: int) -> bytes:
    """``size`` pseudo-random bytes, the same for the same (seed, index, size)."""
    out = bytearray()
    block = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])


def digest(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
