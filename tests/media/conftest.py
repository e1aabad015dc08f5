"""Media fixtures: clips made by ffmpeg (independent of byoc_lab), cached per session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .tstools import need_ffmpeg, run_ffmpeg


@dataclass(frozen=True)
class Clip:
    """An H.264 + audio MPEG-TS clip cut into ~1 s segments by ffmpeg's segment muxer."""

    paths: list[Path]
    width: int
    height: int
    audio: str

    @property
    def segments(self) -> list[bytes]:
        return [p.read_bytes() for p in self.paths]


MakeClip = Callable[..., Clip]


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> MakeClip:
    """``make_clip(width=320, height=240, audio="libopus", seconds=3, start_pid=0x100, ...)``.

    ``video`` is the ffmpeg encoder (``libx264`` or ``libx265``); ``bframes`` its B-frames.
    """
    need_ffmpeg()
    cache: dict[tuple[int, int, str, int, int, str, int], Clip] = {}

    def make(
        width: int = 320,
        height: int = 240,
        audio: str = "libopus",
        seconds: int = 3,
        start_pid: int = 0x100,
        video: str = "libx264",
        bframes: int = 0,
    ) -> Clip:
        key = (width, height, audio, seconds, start_pid, video, bframes)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"clip{width}x{height}{audio}{video}")
            run_ffmpeg(
                "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", str(seconds), "-map", "0:v", "-map", "1:a",
                "-c:v", video, "-preset", "veryfast", "-g", "30", "-bf", str(bframes),
                *(["-x265-params", "log-level=error"] if video == "libx265" else []),
                "-pix_fmt", "yuv420p", "-c:a", audio,
                "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
                "-segment_format_options", f"mpegts_start_pid={start_pid}",
                str(folder / "seg%d.ts"),
            )  # fmt: skip
            paths = sorted(folder.glob("seg*.ts"), key=lambda p: int(p.stem[3:]))
            cache[key] = Clip(paths, width, height, audio)
        return cache[key]

    return make
