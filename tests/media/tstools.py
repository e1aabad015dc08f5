"""Helpers for the media tests: ffmpeg/ffprobe runners and a tiny TS header reader.

The TS reader here only looks at packet headers (PID, start flag), independently
of byoc_lab's demuxer, so tests can say where each frame's bytes begin.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from byoc_lab.frames import RGBImage
from byoc_lab.media import AudioPacket, DecodedVideoFrame, MediaItem


def need_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg/ffprobe are not installed (Debian: apt-get install ffmpeg)")


def run_ffmpeg(*args: str) -> bytes:
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stderr == "", result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def probe_streams(path: Path) -> dict[str, dict[str, Any]]:
    """Per codec_type: codec_name, width/height, nb_read_frames, nb_read_packets."""
    data = ffprobe(
        path,
        "-count_frames",
        "-count_packets",
        "-show_entries",
        "stream=codec_type,codec_name,width,height,nb_read_frames,nb_read_packets",
    )
    return {s["codec_type"]: s for s in data["streams"]}


def probe_packets(path: Path, kind: str) -> list[dict[str, Any]]:
    """Packets of the first ``kind`` stream ("v" or "a"): pts and flags (K = keyframe)."""
    data = ffprobe(path, "-select_streams", f"{kind}:0", "-show_entries", "packet=pts,flags")
    packets: list[dict[str, Any]] = data["packets"]
    return packets


def ffmpeg_rgb(path: Path, width: int, height: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Every frame of ``path`` decoded by ffmpeg itself, as RGB."""
    raw = run_ffmpeg("-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def ts_packets(data: bytes) -> list[tuple[int, int, bool]]:
    """``(offset, pid, payload_unit_start)`` of each 188-byte packet."""
    assert len(data) % 188 == 0
    out = []
    for offset in range(0, len(data), 188):
        assert data[offset] == 0x47, f"no sync byte at {offset}"
        pid = ((data[offset + 1] & 0x1F) << 8) | data[offset + 2]
        out.append((offset, pid, bool(data[offset + 1] & 0x40)))
    return out


def frames(items: list[MediaItem]) -> list[DecodedVideoFrame]:
    return [i for i in items if isinstance(i, DecodedVideoFrame)]


def audio(items: list[MediaItem]) -> list[AudioPacket]:
    return [i for i in items if isinstance(i, AudioPacket)]


def images(items: list[MediaItem]) -> list[RGBImage]:
    return [f.image for f in frames(items)]
