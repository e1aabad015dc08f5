"""Codec benchmark (not collected by pytest): ``python tests/media/bench_codec.py``.

For each size, ffmpeg renders ``testsrc2`` with light temporal noise (camera-like
detail) as raw RGB; byoc_lab encodes it, then decodes the segments fed in 1316-byte
chunks (7 TS packets, as they could arrive from the network). Prints CPU ms/frame for
encode and decode, and the wall time from the feed call that carries a frame's last
byte until that call returns the frame.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np

from byoc_lab.media import DecodedVideoFrame, EncoderConfig, SegmentEncoder, StreamDecoder

FRAMES = 150
CHUNK = 7 * 188


def raw_frames(width: int, height: int) -> np.ndarray:
    cmd = [
        "ffmpeg", "-v", "error", "-f", "lavfi",
        "-i", f"testsrc2=size={width}x{height}:rate=30,noise=alls=3:allf=t",
        "-frames:v", str(FRAMES), "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    data = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(data, np.uint8).reshape(FRAMES, height, width, 3)


def bench(width: int, height: int, preset: str) -> None:
    frames = raw_frames(width, height)
    encoder = SegmentEncoder(EncoderConfig(preset=preset, gop_seconds=1.0))
    chunks = []
    enc_wall = []
    cpu0 = time.process_time()
    for i, image in enumerate(frames):
        t0 = time.perf_counter()
        chunks += encoder.encode(image, i * 3000)
        enc_wall.append(time.perf_counter() - t0)
    enc_cpu = (time.process_time() - cpu0) / FRAMES
    chunks += encoder.close()
    stream = b"".join(c.data for c in chunks)

    decoder = StreamDecoder()
    latencies = []
    got = 0
    cpu0 = time.process_time()
    for pos in range(0, len(stream), CHUNK):
        t0 = time.perf_counter()
        items = decoder.feed(stream[pos : pos + CHUNK])
        dt = time.perf_counter() - t0
        for item in items:
            if isinstance(item, DecodedVideoFrame):
                got += 1
                latencies.append(dt)
    got += len(decoder.flush())
    dec_cpu = (time.process_time() - cpu0) / FRAMES
    kbps = len(stream) * 8 / (FRAMES / 30) / 1000
    print(
        f"{width}x{height} {preset:9s} encode {enc_cpu * 1e3:5.2f} ms/frame CPU "
        f"(wall p50 {statistics.median(enc_wall) * 1e3:5.2f}) | decode {dec_cpu * 1e3:5.2f} "
        f"ms/frame CPU | last byte -> frame p50 {statistics.median(latencies) * 1e3:5.2f} ms, "
        f"max {max(latencies) * 1e3:5.2f} ms | {got}/{FRAMES} frames | {kbps:,.0f} kbit/s"
    )


if __name__ == "__main__":
    presets = sys.argv[1:] or ["superfast", "ultrafast"]
    for w, h in [(512, 512), (1280, 720)]:
        for p in presets:
            bench(w, h, p)
