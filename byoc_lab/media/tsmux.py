"""Minimal MPEG-TS muxer for one program: H.264 video plus an optional copied audio stream.

Pure Python (no PyAV). Every call returns finished 188-byte TS packets at once, so a
frame's bytes can be sent the moment it is encoded. Video PES packets declare their
length whenever it fits (< 64 KiB), so a reader knows a frame is complete without
waiting for the next one; the last packet of every PES is padded with
adaptation-field stuffing, which FFmpeg-style readers also take as an end mark.
Each video PES carries a PCR; keyframes carry the random access indicator.
"""

from __future__ import annotations

from .ts import (
    PACKET_SIZE,
    PAT_PID,
    ElementaryStream,
    crc32_mpeg2,
    encode_pcr,
    encode_timestamp,
)

__all__ = ["AUDIO_PID", "PMT_PID", "VIDEO_PID", "TsMuxer"]

PMT_PID = 0x1000
VIDEO_PID = 0x100
AUDIO_PID = 0x101
_PROGRAM = 1
_H264 = 0x1B
_VIDEO_STREAM_ID = 0xE0
# PCR runs this far (90 kHz ticks, 100 ms) behind the video PTS (never below 0), so
# PTS >= PCR and a reader has a little slack.
_PCR_LEAD = 9_000
_PAYLOAD = PACKET_SIZE - 4


class TsMuxer:
    """Write the PAT/PMT and PES packets of one program, keeping continuity counters.

    Attributes:
        audio: the audio stream declared by the last :meth:`tables` call (or None).
    """

    def __init__(self) -> None:
        self.audio: ElementaryStream | None = None
        self._version = 0
        self._cc: dict[int, int] = {}

    def tables(self, audio: ElementaryStream | None) -> bytes:
        """Return a PAT and a PMT declaring H.264 video and, if given, ``audio``.

        The audio entry copies the input's ``stream_type`` and descriptors, so its
        PES payloads can be copied without re-encoding.
        """
        if audio != self.audio:
            self._version = (self._version + 1) % 32
        self.audio = audio
        pat = _section(0x00, 1, bytes((0, _PROGRAM, 0xE0 | PMT_PID >> 8, PMT_PID & 0xFF)), 0)
        streams = bytearray((0xE0 | VIDEO_PID >> 8, VIDEO_PID & 0xFF, 0xF0, 0x00))
        streams += bytes((_H264, 0xE0 | VIDEO_PID >> 8, VIDEO_PID & 0xFF, 0xF0, 0x00))
        if audio is not None:
            info = audio.descriptors
            streams += bytes((audio.stream_type, 0xE0 | AUDIO_PID >> 8, AUDIO_PID & 0xFF))
            streams += bytes((0xF0 | len(info) >> 8, len(info) & 0xFF)) + info
        pmt = _section(0x02, _PROGRAM, bytes(streams), self._version)
        return self._psi(PAT_PID, pat) + self._psi(PMT_PID, pmt)

    def video(self, access_unit: bytes, pts: int, *, keyframe: bool) -> bytes:
        """Packetise one H.264 access unit (Annex B) shown at ``pts`` (90 kHz)."""
        return self._pes(
            VIDEO_PID, _VIDEO_STREAM_ID, access_unit, pts, pcr=max(pts - _PCR_LEAD, 0), rai=keyframe
        )

    def audio_pes(self, payload: bytes, pts: int | None, stream_id: int) -> bytes:
        """Packetise one audio PES payload, copied from the input, at ``pts``."""
        return self._pes(AUDIO_PID, stream_id, payload, pts, pcr=None, rai=True)

    def _next_cc(self, pid: int) -> int:
        cc = (self._cc.get(pid, -1) + 1) & 0x0F
        self._cc[pid] = cc
        return cc

    def _psi(self, pid: int, section: bytes) -> bytes:
        data = b"\x00" + section
        out = bytearray()
        for pos in range(0, len(data), _PAYLOAD):
            part = data[pos : pos + _PAYLOAD]
            pusi = 0x40 if pos == 0 else 0
            out += bytes((0x47, pusi | pid >> 8, pid & 0xFF, 0x10 | self._next_cc(pid)))
            out += part + b"\xff" * (_PAYLOAD - len(part))
        return bytes(out)

    def _pes(
        self,
        pid: int,
        stream_id: int,
        payload: bytes,
        pts: int | None,
        *,
        pcr: int | None,
        rai: bool,
    ) -> bytes:
        # PES header flags: PTS only (0x80, 5 bytes of fields), or no fields at all.
        fields = b"\x00\x00" if pts is None else b"\x80\x05" + encode_timestamp(0b0010, pts)
        length = 1 + len(fields) + len(payload)  # after the length field
        declared = length if length <= 0xFFFF else 0
        pes = bytes((0, 0, 1, stream_id, declared >> 8, declared & 0xFF, 0x84)) + fields + payload
        out = bytearray()
        pos, n = 0, len(pes)
        while pos < n:
            first = pos == 0
            adaptation: bytes | None = None
            if first and (pcr is not None or rai):
                flags = (0x40 if rai else 0) | (0x10 if pcr is not None else 0)
                adaptation = bytes((flags,)) + (encode_pcr(pcr) if pcr is not None else b"")
            room = _PAYLOAD - (0 if adaptation is None else 1 + len(adaptation))
            pad = room - (n - pos)
            if pad > 0:
                if adaptation is not None:
                    adaptation += b"\xff" * pad
                else:
                    adaptation = b"" if pad == 1 else b"\x00" + b"\xff" * (pad - 2)
                room -= pad
            control = 0x30 if adaptation is not None else 0x10
            out += bytes(
                (0x47, (0x40 if first else 0) | pid >> 8, pid & 0xFF, control | self._next_cc(pid))
            )
            if adaptation is not None:
                out += bytes((len(adaptation),)) + adaptation
            out += pes[pos : pos + room]
            pos += room
        return bytes(out)


def _section(table_id: int, extension: int, body: bytes, version: int) -> bytes:
    length = 5 + len(body) + 4
    head = bytes(
        (
            table_id,
            0xB0 | length >> 8,
            length & 0xFF,
            extension >> 8,
            extension & 0xFF,
            0xC1 | (version << 1),
            0,
            0,
        )
    )
    section = head + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")
