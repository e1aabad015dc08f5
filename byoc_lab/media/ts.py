"""MPEG-TS vocabulary shared by the demuxer and the muxer (pure Python, no PyAV).

Timestamps are integers on the 90 kHz MPEG clock (:data:`CLOCK`). On the wire they
are 33-bit and wrap every ~26.5 hours; :func:`unwrap` turns them into a monotonic
count, and :func:`encode_timestamp` wraps them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

__all__ = [
    "CLOCK",
    "PACKET_SIZE",
    "PTS_WRAP",
    "TIME_BASE",
    "AudioPacket",
    "ElementaryStream",
    "crc32_mpeg2",
    "decode_timestamp",
    "encode_pcr",
    "encode_timestamp",
    "seconds_to_pts",
    "unwrap",
]

PACKET_SIZE = 188
SYNC_BYTE = 0x47
PAT_PID = 0x0000
NULL_PID = 0x1FFF
CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)
PTS_WRAP = 1 << 33

StreamKind = Literal["video", "audio", "other"]

# stream_type -> (kind, codec name) for the types byoc_lab recognises.
_STREAM_TYPES: dict[int, tuple[StreamKind, str]] = {
    0x01: ("video", "mpeg1video"),
    0x02: ("video", "mpeg2video"),
    0x1B: ("video", "h264"),
    0x24: ("video", "hevc"),
    0x03: ("audio", "mp3"),
    0x04: ("audio", "mp3"),
    0x0F: ("audio", "aac"),
    0x11: ("audio", "aac_latm"),
    0x81: ("audio", "ac3"),
}
_REGISTRATION_TAG = 0x05
_AC3_TAG = 0x6A


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
        table.append(c & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes | bytearray | memoryview) -> int:
    """CRC-32/MPEG-2 of a PSI section; over a whole section including its CRC it is 0."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc


def iter_descriptors(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield ``(tag, body)`` for each descriptor in a PMT descriptor loop."""
    pos = 0
    while pos + 2 <= len(data):
        tag, length = data[pos], data[pos + 1]
        yield tag, data[pos + 2 : pos + 2 + length]
        pos += 2 + length


@dataclass(frozen=True)
class ElementaryStream:
    """One stream of a program, as the PMT declares it.

    Attributes:
        pid: the TS packet id carrying the stream.
        stream_type: the PMT ``stream_type`` (0x1B is H.264, 0x0F AAC, 0x06 private…).
        descriptors: the raw ``ES_info`` descriptor loop; copied verbatim when the
            stream is remuxed, so codecs such as Opus keep their registration.
    """

    pid: int
    stream_type: int
    descriptors: bytes = b""
    kind: StreamKind = field(init=False, compare=False)
    codec: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        kind, codec = _STREAM_TYPES.get(self.stream_type, ("other", "unknown"))
        if self.stream_type == 0x06:
            for tag, body in iter_descriptors(self.descriptors):
                if tag == _REGISTRATION_TAG and body[:4] == b"Opus":
                    kind, codec = "audio", "opus"
                elif tag == _AC3_TAG:
                    kind, codec = "audio", "ac3"
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "codec", codec)


@dataclass(frozen=True)
class AudioPacket:
    """Compressed audio from the input, passed through to the output untouched.

    ``data`` is one PES payload exactly as the input carried it (ADTS frames for AAC,
    Opus access units with their MPEG-TS control headers for Opus), so remuxing it
    under the same ``stream`` declaration reproduces the input's audio packets.

    Attributes:
        data: the PES payload.
        pts: presentation time on the 90 kHz clock, unwrapped (None if absent).
        stream: the stream's PMT entry (type and descriptors).
        stream_id: the PES ``stream_id`` (0xC0 MPEG audio, 0xBD private stream 1…).
    """

    data: bytes
    pts: int | None
    stream: ElementaryStream
    stream_id: int

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or None."""
        return None if self.pts is None else self.pts / CLOCK


def seconds_to_pts(seconds: float) -> int:
    """Convert seconds to 90 kHz clock ticks (rounded)."""
    return round(seconds * CLOCK)


def unwrap(raw: int, reference: int | None) -> int:
    """Return the value congruent to ``raw`` mod 2**33 closest to ``reference``."""
    if reference is None:
        return raw
    value = reference - (reference % PTS_WRAP) + raw
    if value - reference > PTS_WRAP // 2:
        value -= PTS_WRAP
    elif reference - value > PTS_WRAP // 2:
        value += PTS_WRAP
    return value


def decode_timestamp(b: bytes | bytearray, pos: int) -> int:
    """Read the 33-bit PTS/DTS stored in the 5 bytes at ``b[pos:]``."""
    return (
        ((b[pos] >> 1) & 0x07) << 30
        | b[pos + 1] << 22
        | (b[pos + 2] >> 1) << 15
        | b[pos + 3] << 7
        | b[pos + 4] >> 1
    )


def encode_timestamp(prefix: int, ts: int) -> bytes:
    """Encode ``ts`` (wrapped to 33 bits) as a 5-byte PES PTS/DTS field."""
    ts %= PTS_WRAP
    return bytes(
        (
            (prefix << 4) | ((ts >> 29) & 0x0E) | 1,
            (ts >> 22) & 0xFF,
            ((ts >> 14) & 0xFE) | 1,
            (ts >> 7) & 0xFF,
            ((ts << 1) & 0xFE) | 1,
        )
    )


def encode_pcr(base: int) -> bytes:
    """Encode a program clock reference (90 kHz ``base``, extension 0) as 6 bytes."""
    base %= PTS_WRAP
    return bytes(
        (
            (base >> 25) & 0xFF,
            (base >> 17) & 0xFF,
            (base >> 9) & 0xFF,
            (base >> 1) & 0xFF,
            ((base & 1) << 7) | 0x7E,
            0,
        )
    )
