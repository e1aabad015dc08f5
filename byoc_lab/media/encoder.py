"""Segment encoder: RGB frames in, self-contained MPEG-TS segments out, frame by frame.

Video is H.264 from libx264 (``tune=zerolatency``: no B-frames, no lookahead, slice
threads), yuv420p with BT.709 limited-range colour signalled in the stream. Every
keyframe starts a new segment that opens with PAT and PMT, so each segment decodes
on its own. Keyframes are placed by the encoder itself: every ``gop_frames`` frames,
or when ``gop_seconds`` of presentation time have passed, and whenever the frame
size changes or time jumps backwards (which also opens a new libx264 instance for
a new size).

:meth:`SegmentEncoder.encode` returns the TS bytes of a frame from the same call
(libx264 in this mode has no frame delay), so a publisher can stream them into the
current trickle segment at once. Audio packets from the decoder are copied into
the output (no re-encode) with their own timestamps, which share the video's clock
when the caller passes the decoder's video ``pts`` to :meth:`SegmentEncoder.encode`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from byoc_lab.errors import EncodeError, RuntimeStateError
from byoc_lab.frames import RGBImage, describe_array

from .ts import CLOCK, AudioPacket, ElementaryStream
from .tsmux import TsMuxer

__all__ = [
    "Chunk",
    "EncoderConfig",
    "EncoderStats",
    "SegmentEncoder",
    "encode_clip",
    "split_segments",
]

logger = logging.getLogger(__name__)

_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
_BT709 = 1  # AVCOL_PRI_BT709 / AVCOL_TRC_BT709 / AVCOL_SPC_BT709
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG


@dataclass(frozen=True)
class EncoderConfig:
    """How :class:`SegmentEncoder` encodes.

    Attributes:
        fps: nominal frame rate, for libx264's rate control.
        gop_seconds: keyframe (and segment) interval in presentation time.
        gop_frames: keyframe interval in frames; overrides ``gop_seconds`` when set.
        preset: libx264 preset, ``ultrafast`` (cheapest) … ``medium``.
        crf: libx264 constant rate factor (0-51, lower is better and bigger).
        threads: libx264 slice threads (0: libx264 picks).
    """

    fps: float = 30.0
    gop_seconds: float = 2.0
    gop_frames: int | None = None
    preset: str = "superfast"
    crf: int = 23
    threads: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not self.fps > 0:
            problems.append(f"fps {self.fps} (must be > 0)")
        if not self.gop_seconds > 0:
            problems.append(f"gop_seconds {self.gop_seconds} (must be > 0)")
        if self.gop_frames is not None and self.gop_frames < 1:
            problems.append(f"gop_frames {self.gop_frames} (must be >= 1)")
        if self.preset not in _PRESETS:
            problems.append(f"preset {self.preset!r} (one of {', '.join(_PRESETS)})")
        if not 0 <= self.crf <= 51:
            problems.append(f"crf {self.crf} (0-51)")
        if self.threads < 0:
            problems.append(f"threads {self.threads} (must be >= 0)")
        if problems:
            raise EncodeError("invalid encoder configuration", got="; ".join(problems))


@dataclass(frozen=True)
class Chunk:
    """TS bytes ready to send.

    Attributes:
        data: whole 188-byte TS packets.
        starts_segment: these bytes open a new segment (PAT, PMT, keyframe): close
            the current trickle segment and start the next one with them.
        pts: the video frame's presentation time (90 kHz), None for audio.
    """

    data: bytes
    starts_segment: bool
    pts: int | None


@dataclass
class EncoderStats:
    """Running counts of a :class:`SegmentEncoder`."""

    frames: int = 0
    segments: int = 0
    audio_packets: int = 0
    audio_dropped: int = 0
    bytes: int = 0


class SegmentEncoder:
    """Encode RGB frames into self-contained MPEG-TS segments, one chunk per frame.

    Args:
        config: encoding settings (defaults: superfast, 2 s GOP, CRF 23).
        max_audio_backlog: audio packets held while no segment can take them (before
            the first frame, or when the audio format changes until the next
            keyframe); beyond this the oldest are dropped and counted.

    Not thread-safe; owns one libx264 instance at a time and no thread or file.
    Bounded: besides libx264's own state it holds at most ``max_audio_backlog``
    audio packets and the timestamps of frames inside libx264 (none with these
    settings).
    """

    def __init__(
        self, config: EncoderConfig | None = None, *, max_audio_backlog: int = 256
    ) -> None:
        self.config = config if config is not None else EncoderConfig()
        self.stats = EncoderStats()
        self._backlog: deque[AudioPacket] = deque(maxlen=max_audio_backlog)
        self._ts = TsMuxer()
        self._codec: av.VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._yuv = VideoReformatter()
        self._pts: dict[int, int] = {}
        self._counter = 0
        self._segment_open = False
        self._segment_start: int | None = None
        self._segment_frames = 0
        self._last_pts: int | None = None
        self._audio: ElementaryStream | None = None
        self._closed = False

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the current encoder, None before the first frame."""
        return self._size

    def encode(self, image: RGBImage, pts: int) -> list[Chunk]:
        """Encode one frame shown at ``pts`` (90 kHz ticks); return its TS bytes now.

        Raises:
            EncodeError: ``image`` is not RGB uint8 ``HxWx3`` with even sides, or
                libx264 refused it.
            RuntimeStateError: the encoder was closed.
        """
        self._check_open()
        image = _checked(image)
        height, width = image.shape[:2]
        out: list[Chunk] = []
        force = False
        if self._codec is None or self._size != (width, height):
            out += self._drain()
            self._codec = self._open(width, height)
            force = True
        if force or self._gop_due(pts):
            self._segment_start, self._segment_frames = pts, 0
            force = True
        self._last_pts = pts
        self._segment_frames += 1
        frame = av.VideoFrame.from_numpy_buffer(image, format="rgb24")
        yuv = self._yuv.reformat(
            frame,
            format="yuv420p",
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
        yuv.pts = self._counter
        self._pts[self._counter] = pts
        self._counter += 1
        if force:
            yuv.pict_type = PictureType.I
        try:
            packets = self._codec.encode(yuv)
        except av.FFmpegError as exc:
            raise EncodeError(f"libx264 refused a {width}x{height} frame: {exc}") from exc
        self.stats.frames += 1
        return out + self._mux(packets)

    def set_audio(self, stream: ElementaryStream | None) -> None:
        """Declare the audio the output carries (the decoder's ``audio_stream``).

        Call it as soon as the input's PMT is known, before the first frame, so the
        first segment already declares the audio; a change takes effect at the next
        segment. :meth:`add_audio` also declares its packet's stream.
        """
        self._audio = stream

    def add_audio(self, packet: AudioPacket) -> list[Chunk]:
        """Copy one input audio packet into the output; return its TS bytes if it fits now.

        A packet goes into the current segment when that segment's PMT declares its
        format; otherwise it waits (bounded) for the next segment start.
        """
        self._check_open()
        self._audio = packet.stream
        if self._segment_open and _same_format(packet.stream, self._ts.audio):
            return [self._audio_chunk(packet)]
        if len(self._backlog) == self._backlog.maxlen:
            self.stats.audio_dropped += 1
        self._backlog.append(packet)
        return []

    def flush(self) -> list[Chunk]:
        """Emit everything still buffered (frames, then waiting audio) and end the segment.

        Audio that the current segment cannot carry is dropped and counted. The next
        :meth:`encode` starts a new segment with a new libx264 instance.
        """
        self._check_open()
        out = self._drain()
        while self._backlog:
            packet = self._backlog.popleft()
            if self._segment_open and _same_format(packet.stream, self._ts.audio):
                out.append(self._audio_chunk(packet))
            else:
                self.stats.audio_dropped += 1
        self._codec, self._size, self._segment_open = None, None, False
        self._pts.clear()
        return out

    def close(self) -> list[Chunk]:
        """Flush and release the encoder; it cannot be used afterwards."""
        out = self.flush() if not self._closed else []
        self._closed = True
        return out

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeStateError("the segment encoder is closed", fix="create a new one")

    def _gop_due(self, pts: int) -> bool:
        if self._segment_start is None or (self._last_pts is not None and pts < self._last_pts):
            return True
        if self.config.gop_frames is not None:
            return self._segment_frames >= self.config.gop_frames
        half_frame = CLOCK / (2 * self.config.fps)
        return pts - self._segment_start >= self.config.gop_seconds * CLOCK - half_frame

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        cfg = self.config
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        rate = Fraction(cfg.fps).limit_denominator(1001)
        codec.framerate = rate
        codec.time_base = 1 / rate
        codec.max_b_frames = 0
        codec.thread_type = "SLICE"
        codec.thread_count = cfg.threads
        codec.color_primaries = codec.color_trc = codec.colorspace = _BT709
        codec.color_range = _LIMITED_RANGE
        codec.options = {
            "preset": cfg.preset,
            "tune": "zerolatency",
            "crf": str(cfg.crf),
            "forced-idr": "1",
            "x264-params": "keyint=infinite:scenecut=0:aud=1",
        }
        try:
            codec.open()
        except av.FFmpegError as exc:
            raise EncodeError(f"cannot open libx264 for {width}x{height}: {exc}") from exc
        self._size = (width, height)
        logger.debug("opened libx264 %dx%d preset=%s", width, height, cfg.preset)
        return codec

    def _drain(self) -> list[Chunk]:
        if self._codec is None:
            return []
        try:
            packets = self._codec.encode(None)
        except av.FFmpegError as exc:
            raise EncodeError(f"libx264 failed while flushing: {exc}") from exc
        self._segment_start = None
        return self._mux(packets)

    def _mux(self, packets: Iterable[av.Packet[Any]]) -> list[Chunk]:
        out: list[Chunk] = []
        for packet in packets:
            fallback = self._last_pts if self._last_pts is not None else 0
            pts = self._pts.pop(packet.pts if packet.pts is not None else -1, fallback)
            data = bytes(packet)
            if packet.is_keyframe:
                head = self._ts.tables(self._audio)
                body = self._ts.video(data, pts, keyframe=True)
                out.append(Chunk(head + body, True, pts))
                self.stats.bytes += len(out[-1].data)
                self._segment_open = True
                self.stats.segments += 1
                backlog, self._backlog = list(self._backlog), deque(maxlen=self._backlog.maxlen)
                for waiting in backlog:
                    out += self.add_audio(waiting)
            else:
                out.append(Chunk(self._ts.video(data, pts, keyframe=False), False, pts))
                self.stats.bytes += len(out[-1].data)
            logger.debug("encoded frame pts=%d: %d bytes", pts, len(data))
        return out

    def _audio_chunk(self, packet: AudioPacket) -> Chunk:
        self.stats.audio_packets += 1
        chunk = Chunk(self._ts.audio_pes(packet.data, packet.pts, packet.stream_id), False, None)
        self.stats.bytes += len(chunk.data)
        return chunk


def _same_format(a: ElementaryStream | None, b: ElementaryStream | None) -> bool:
    if a is None or b is None:
        return False
    return (a.stream_type, a.descriptors) == (b.stream_type, b.descriptors)


def _checked(image: RGBImage) -> RGBImage:
    ok = isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
    if not ok or image.shape[2] != 3 or image.shape[0] < 2 or image.shape[1] < 2:
        raise EncodeError(
            "the encoder takes RGB frames",
            expected="a numpy uint8 array of shape (height, width, 3)",
            got=describe_array(image),
        )
    height, width = image.shape[:2]
    if width % 2 or height % 2:
        raise EncodeError(
            "H.264 4:2:0 needs even frame sides",
            got=f"{width}x{height}",
            fix=f"crop or resize to {width - width % 2}x{height - height % 2}",
        )
    return np.ascontiguousarray(image)


def split_segments(chunks: Iterable[Chunk]) -> list[bytes]:
    """Join chunks into whole segments, cutting where ``starts_segment`` is set."""
    segments: list[bytearray] = []
    for chunk in chunks:
        if chunk.starts_segment or not segments:
            segments.append(bytearray())
        segments[-1] += chunk.data
    return [bytes(s) for s in segments]


def encode_clip(
    frames: Iterable[RGBImage], fps: float = 30.0, *, config: EncoderConfig | None = None
) -> list[bytes]:
    """Encode frames shown ``1/fps`` apart into MPEG-TS segments (for tests and tools)."""
    encoder = SegmentEncoder(config if config is not None else EncoderConfig(fps=fps))
    chunks: list[Chunk] = []
    for index, image in enumerate(frames):
        chunks += encoder.encode(image, round(index * CLOCK / fps))
    chunks += encoder.close()
    return split_segments(chunks)
