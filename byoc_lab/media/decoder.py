"""Progressive decoder: MPEG-TS bytes in, RGB frames and compressed audio out.

Design (measured on a 2-core machine with ``tests/media/bench_codec.py``):

* Demuxing is byoc_lab's own pure-Python MPEG-TS reader (:mod:`.tsdemux`), fed
  chunk by chunk on the caller's thread. Each H.264 access unit goes to
  ``av.CodecContext.create("h264", "r")`` the moment its last TS packet is in: the
  PES length or the muxer's end-of-PES stuffing says so. With slice threading only
  (no frame threads) and streams without B-frames, libavcodec returns the picture
  from that same call, so a frame comes out of :meth:`StreamDecoder.feed` in the
  call that delivers its last byte: that call takes a median 0.6 ms at 512x512 and
  2 ms at 1280x720 (decode plus RGB conversion; 0.7 and 2.2 ms CPU per frame).
* The alternative, PyAV's demuxer (``av.open``) reading a file-like object in a
  thread, hands out a packet only after the next PES starts, i.e. one frame
  interval (33 ms at 30 fps) late; with ``fflags=nobuffer`` it decoded only the
  first segment. It also needs a thread, a pipe and probing.
* Streams with B-frames decode too, with libavcodec's reordering delay; the
  decoder drains it at each segment end.

Audio is not decoded: each audio PES comes out as an :class:`~.ts.AudioPacket`
(bytes as they were on the wire, with their PTS) for the encoder to copy.

Errors: garbage, lost packets, truncated segments and frames the H.264 decoder
rejects raise :class:`~byoc_lab.errors.DecodeError` (counted in
``stats.errors``), once per bad stretch. The decoder then drops video until the next
keyframe (normally the next segment), which decodes normally. Frames decoded
before the error in the same call are not lost: the next call returns them first.
Nothing grows without bound: see :mod:`.tsdemux` for the byte caps; the held-back
output is at most one call's worth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from byoc_lab.errors import DecodeError
from byoc_lab.frames import RGBImage

from .ts import CLOCK, AudioPacket, ElementaryStream
from .tsdemux import DemuxProblem, PesUnit, TsDemuxer

__all__ = ["DecodedVideoFrame", "DecoderStats", "MediaItem", "StreamDecoder", "decode_segments"]

logger = logging.getLogger(__name__)


_DEFAULT_FRAME_TICKS = CLOCK // 30


@dataclass(frozen=True)
class DecodedVideoFrame:
    """One decoded picture.

    Attributes:
        image: RGB ``uint8`` array ``(height, width, 3)``, owned by the caller.
        pts: presentation time on the 90 kHz clock (unwrapped).
        keyframe: the picture was an IDR/keyframe.
    """

    image: RGBImage
    pts: int
    keyframe: bool

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return self.pts / CLOCK


MediaItem = DecodedVideoFrame | AudioPacket


@dataclass
class DecoderStats:
    """Running counts of a :class:`StreamDecoder`.

    Attributes:
        video_frames: pictures handed out.
        audio_packets: audio PES payloads handed out.
        errors: :class:`DecodeError` raised.
        skipped: video access units dropped while waiting for a keyframe.
        segments: :meth:`StreamDecoder.end_segment` calls.
    """

    video_frames: int = 0
    audio_packets: int = 0
    errors: int = 0
    skipped: int = 0
    segments: int = 0


class StreamDecoder:
    """Decode a stream of MPEG-TS segments (H.264 video, any audio) progressively.

    Args:
        threads: H.264 slice threads (0: libavcodec picks). Frame threading, which
            would delay every picture, is never used.
        max_pes_bytes: cap on one access unit.

    Feed each segment's bytes with :meth:`feed` as they arrive, then call
    :meth:`end_segment`; call :meth:`flush` at the end of the stream. Segments may
    come from consecutive or brand-new streams (new resolution, new PIDs): the
    decoder follows. Not thread-safe; never blocks; owns no thread or file.
    """

    def __init__(self, *, threads: int = 0, max_pes_bytes: int = 8 << 20) -> None:
        self.threads = threads
        self.stats = DecoderStats()
        self._demux = TsDemuxer(max_pes_bytes=max_pes_bytes)
        self._codec: av.VideoCodecContext | None = None
        self._codec_stream: ElementaryStream | None = None
        self._rgb = VideoReformatter()
        self._need_keyframe = True
        self._reported = False
        self._held: list[MediaItem] = []
        self._last_pts: int | None = None

    @property
    def video_stream(self) -> ElementaryStream | None:
        """The video stream of the current program (None before its PMT)."""
        return self._demux.video

    @property
    def audio_stream(self) -> ElementaryStream | None:
        """The audio stream of the current program (None if it has none)."""
        return self._demux.audio

    def feed(self, data: bytes | bytearray | memoryview) -> list[MediaItem]:
        """Consume the next bytes of the current segment.

        Returns:
            Frames and audio packets completed by these bytes, in stream order.

        Raises:
            DecodeError: the bytes are not decodable (garbage, lost packets, a frame
                the decoder rejects). Call again with the next bytes; decoding resumes
                at the next keyframe, and whatever these bytes completed before the
                problem comes first out of the next call.
        """
        return self._run(self._demux.feed(data))

    def end_segment(self) -> list[MediaItem]:
        """Mark the end of the current segment; return what its last bytes completed.

        Raises:
            DecodeError: the segment was truncated (ends inside a packet or a frame)
                or held no MPEG-TS program.
        """
        self.stats.segments += 1
        drain = self._codec is not None and bool(self._codec.has_b_frames)
        try:
            return self._run(self._demux.end_segment(), drain=drain)
        finally:
            self._reported = False

    def flush(self) -> list[MediaItem]:
        """End the stream: finish the segment and return every picture still buffered.

        Raises:
            DecodeError: as :meth:`end_segment`.
        """
        try:
            return self._run(self._demux.end_segment(), drain=True)
        finally:
            self._reset_codec()
            self._reported = False

    def _run(
        self, events: Iterable[DemuxProblem | PesUnit], *, drain: bool = False
    ) -> list[MediaItem]:
        out, self._held = self._held, []
        problem: str | None = None
        for event in events:
            if isinstance(event, DemuxProblem):
                message: str | None = event.message
                video = self._demux.video
                if event.pid is None or video is None or event.pid == video.pid:
                    self._need_keyframe = True
            elif event.stream.kind == "audio":
                out.append(AudioPacket(event.data, event.pts, event.stream, event.stream_id))
                self.stats.audio_packets += 1
                continue
            else:
                message = self._decode(event, out)
            problem = problem or message
        if drain and self._codec is not None:
            problem = problem or self._send(None, out)
        if problem is not None and not self._reported:
            self._reported = True
            self.stats.errors += 1
            self._held = out
            raise DecodeError(f"undecodable MPEG-TS/H.264 input: {problem}")
        return out

    def _decode(self, unit: PesUnit, out: list[MediaItem]) -> str | None:
        stream = unit.stream
        if stream != self._codec_stream:
            self._reset_codec()
            self._codec_stream = stream
            if stream.codec != "h264":
                return f"video codec {stream.codec} (stream type 0x{stream.stream_type:02x})"
        if stream.codec != "h264":
            self.stats.skipped += 1
            return None
        if self._need_keyframe:
            if not _has_idr(unit.data):
                self.stats.skipped += 1
                return None
            self._need_keyframe = False
        packet = av.Packet(unit.data)
        packet.pts = unit.pts
        packet.dts = unit.dts if unit.dts is not None else unit.pts
        return self._send(packet, out)

    def _send(self, packet: av.Packet[Any] | None, out: list[MediaItem]) -> str | None:
        if self._codec is None:
            if packet is None:
                return None
            self._codec = av.CodecContext.create("h264", "r")
            self._codec.thread_type = "SLICE"
            self._codec.thread_count = self.threads
        try:
            frames = self._codec.decode(packet)
        except av.FFmpegError as exc:
            self._reset_codec()
            self._need_keyframe = True
            return f"the H.264 decoder rejected a frame ({exc})"
        if packet is None:
            self._codec.flush_buffers()
        for frame in frames:
            if frame.is_corrupt:
                self._need_keyframe = True
                return "the H.264 decoder reported a corrupt picture"
            out.append(self._picture(frame))
        return None

    def _picture(self, frame: av.VideoFrame) -> DecodedVideoFrame:
        if frame.pts is not None:
            pts = frame.pts
        elif self._last_pts is not None:
            pts = self._last_pts + _DEFAULT_FRAME_TICKS
        else:
            pts = 0
        self._last_pts = pts
        rgb = self._rgb.reformat(frame, format="rgb24", src_color_range=frame.color_range)
        image: RGBImage = np.asarray(rgb.to_ndarray(), dtype=np.uint8)
        if not image.flags.c_contiguous or not image.flags.writeable:
            image = np.array(image)
        self.stats.video_frames += 1
        if frame.key_frame:
            self._reported = False
        logger.debug("decoded %dx%d frame pts=%d", frame.width, frame.height, pts)
        return DecodedVideoFrame(image, pts, bool(frame.key_frame))

    def _reset_codec(self) -> None:
        self._codec = None
        self._codec_stream = None
        self._need_keyframe = True


def _has_idr(access_unit: bytes) -> bool:
    """Whether an H.264 access unit (Annex B) holds an IDR slice."""
    pos = access_unit.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(access_unit):
        nal_type = access_unit[pos + 3] & 0x1F
        if nal_type == 5:
            return True
        if nal_type == 1:
            return False
        pos = access_unit.find(b"\x00\x00\x01", pos + 3)
    return False


def decode_segments(segments: Iterable[bytes], *, chunk_size: int = 0) -> list[MediaItem]:
    """Decode whole segments (for tests and tools); errors propagate as DecodeError.

    Args:
        segments: MPEG-TS segments, each self-contained.
        chunk_size: feed each segment in pieces of this many bytes (0: whole).
    """
    decoder = StreamDecoder()
    items: list[MediaItem] = []
    for segment in segments:
        step = chunk_size or max(len(segment), 1)
        for pos in range(0, len(segment), step):
            items += decoder.feed(segment[pos : pos + step])
        items += decoder.end_segment()
    return items + decoder.flush()
