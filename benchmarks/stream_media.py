"""Media for the live-stream benchmark: the input clip, the receiver, the codec floor.

The input is a :class:`~byoc_lab.synthetic.SyntheticSource` moving gradient with each
frame's number burned in, encoded once with byoc_lab's :class:`SegmentEncoder` at a
1 s GOP (one MPEG-TS segment a second, as a live encoder set to ``-g 30`` sends it)
and kept as one TS chunk per frame, so the publisher can send frame ``i``'s bytes at
its capture time without encoding on the benchmark's event loop.

The receiver decodes the output channel progressively (every chunk goes to
:class:`StreamDecoder` the moment it arrives) and notes when each burned-in frame
number first came out of the decoder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from byoc_lab.builtins import GreenTint
from byoc_lab.framecode import read_frame_number
from byoc_lab.frames import RGBImage
from byoc_lab.media import (
    DecodedVideoFrame,
    EncoderConfig,
    MediaItem,
    SegmentEncoder,
    StreamDecoder,
)
from byoc_lab.synthetic import SyntheticSource

__all__ = [
    "FPS",
    "INPUT_ENCODER",
    "Clip",
    "Reception",
    "codec_floor_ms",
    "make_clip",
    "tint_ms",
    "tint_of",
]

FPS = 30
"""Input frame rate (frames are sent live at this pace)."""

INPUT_ENCODER = EncoderConfig(fps=FPS, gop_frames=FPS, preset="superfast", crf=23)
"""How the input is encoded: 1 s GOP (DESIGN's reference), libx264 superfast CRF 23."""

_TICKS = 90_000 // FPS  # 90 kHz ticks per frame
_SAMPLE_EVERY = 25  # output frames kept (every n-th number) to check the tint


@dataclass(frozen=True)
class Clip:
    """An encoded input clip, one chunk of TS bytes per frame.

    Attributes:
        width: frame width.
        height: frame height.
        chunks: ``chunks[i]`` carries frame ``i`` (its segment's PAT/PMT if it opens one).
        starts: ``starts[i]``: frame ``i`` opens a new segment (a keyframe).
        source: what rendered the frames (``source.render(i)`` is frame ``i``).
    """

    width: int
    height: int
    chunks: list[bytes]
    starts: list[bool]
    source: SyntheticSource

    @property
    def count(self) -> int:
        """Frames in the clip."""
        return len(self.chunks)

    @property
    def size(self) -> str:
        """``"512x512"``."""
        return f"{self.width}x{self.height}"

    def segments(self) -> list[list[int]]:
        """Frame numbers grouped by segment, in order."""
        groups: list[list[int]] = []
        for index, starts in enumerate(self.starts):
            if starts or not groups:
                groups.append([])
            groups[-1].append(index)
        return groups


def make_clip(width: int, height: int, count: int) -> Clip:
    """Render and encode ``count`` frames of the numbered moving gradient."""
    source = SyntheticSource("gradient", width=width, height=height, fps=FPS)
    encoder = SegmentEncoder(INPUT_ENCODER)
    chunks: list[bytes] = []
    starts: list[bool] = []
    for index in range(count):
        out = encoder.encode(source.render(index), index * _TICKS)
        chunks.append(b"".join(c.data for c in out))
        starts.append(any(c.starts_segment for c in out))
    chunks[-1] += b"".join(c.data for c in encoder.close())
    return Clip(width, height, chunks, starts, source)


def codec_floor_ms(clip: Clip, config: EncoderConfig) -> float:
    """CPU ms per frame to decode ``clip`` progressively and re-encode it with ``config``.

    Runs on the calling thread with nothing else going on in the process, so
    :func:`time.process_time` (all threads: libavcodec's and libx264's slice threads
    included) measures the codec work alone: no processing, no network.
    """
    decoder = StreamDecoder()
    encoder = SegmentEncoder(config)
    frames = 0

    def encode(items: list[MediaItem]) -> None:
        nonlocal frames
        for item in items:
            if isinstance(item, DecodedVideoFrame):
                encoder.encode(item.image, item.pts)
                frames += 1

    start = time.process_time()
    for index, chunk in enumerate(clip.chunks):
        if clip.starts[index] and index:
            encode(decoder.end_segment())
        encode(decoder.feed(chunk))
    encode(decoder.flush())
    encoder.close()
    used = time.process_time() - start
    return used * 1000 / max(frames, 1)


def tint_ms(clip: Clip, frames: int = 60) -> float:
    """CPU ms per frame of byoc_lab's :class:`GreenTint` ``process()`` on the clip's frames."""
    tint = GreenTint()
    images = [clip.source.render(i) for i in range(min(frames, clip.count))]
    start = time.process_time()
    for image in images:
        tint.process(image)
    return (time.process_time() - start) * 1000 / len(images)


@dataclass
class Reception:
    """What the receiver saw on the output channel.

    Attributes:
        arrivals: first arrival time (``perf_counter``) of each burned-in frame number.
        frames: every decoded output frame (identified or not, duplicates included).
        unidentified: output frames without a readable frame number.
        duplicates: output frames whose number had already arrived.
        samples: a few output pictures by frame number, to check the effect afterwards.
        decode_errors: stretches of output the decoder rejected.
        ended: the output channel reached its end of stream.
    """

    arrivals: dict[int, float] = field(default_factory=dict)
    frames: int = 0
    unidentified: int = 0
    duplicates: int = 0
    samples: dict[int, RGBImage] = field(default_factory=dict)
    decode_errors: int = 0
    ended: bool = False

    def take(self, items: list[MediaItem]) -> None:
        """Record the decoder's output for one call (arrival time: now)."""
        now = time.perf_counter()
        for item in items:
            if not isinstance(item, DecodedVideoFrame):
                continue
            self.frames += 1
            number = read_frame_number(item.image)
            if number is None:
                self.unidentified += 1
            elif number in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[number] = now
                if number % _SAMPLE_EVERY == 0:
                    self.samples[number] = item.image


def tint_of(reception: Reception, clip: Clip) -> tuple[float, float] | None:
    """Mean (green, red) change of the sampled output frames against their inputs.

    Only the part below the burned-in number is compared. None when nothing was
    sampled. The green tint adds 80 to green (saturating), so green rises by tens and
    red stays within codec noise.
    """
    if not reception.samples:
        return None
    greens, reds = [], []
    for number, image in reception.samples.items():
        if image.shape[:2] != (clip.height, clip.width):
            continue
        top = clip.height // 4
        out = image[top:].astype(np.float64)
        ref = clip.source.render(number)[top:].astype(np.float64)
        greens.append(float(out[..., 1].mean() - ref[..., 1].mean()))
        reds.append(float(out[..., 0].mean() - ref[..., 0].mean()))
    if not greens:
        return None
    return float(np.mean(greens)), float(np.mean(reds))
