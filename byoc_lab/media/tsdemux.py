"""Progressive MPEG-TS demuxer: bytes in as they arrive, whole PES units out at once.

Pure Python (no PyAV), fed chunk by chunk. It selects the first video and the first
audio stream of the first program and reassembles their PES packets. A PES unit is
handed out the moment it is known to be complete, which for video is what lets a
frame be decoded before the next frame's bytes arrive:

1. the PES header declares a length and that many bytes are in (byoc_lab's own
   muxer always declares it when the frame fits in 64 KiB);
2. the packet carries adaptation-field stuffing: muxers such as FFmpeg's pad only
   the last TS packet of a PES, so stuffing marks its end. If a continuation
   packet ever follows such a packet, the hint is switched off for that PID and a
   problem is reported;
3. the next PES of the same PID starts, or the segment ends (:meth:`TsDemuxer.end_segment`).
   This fallback costs one frame interval; with FFmpeg-made input it is needed only
   when a PES happens to fill its last packet exactly (about one frame in 184).

Problems (lost sync, lost packets, bad CRC, truncation, oversized PES) never raise
here; they come out in order as :class:`DemuxProblem` events and the demuxer
resynchronises by itself. Memory is bounded: less than three TS packets of unparsed
bytes, one PES per selected stream (at most ``max_pes_bytes`` each, default 8 MiB)
and one PSI section (at most 1 KiB) per table PID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .ts import (
    NULL_PID,
    PACKET_SIZE,
    PAT_PID,
    SYNC_BYTE,
    ElementaryStream,
    crc32_mpeg2,
    decode_timestamp,
    unwrap,
)

__all__ = ["DemuxEvent", "DemuxProblem", "PesUnit", "TsDemuxer"]

logger = logging.getLogger(__name__)

_MAX_SECTION = 1024 + 3
# stream_ids whose PES header has no optional fields (ISO/IEC 13818-1 Table 2-21).
_NO_HEADER_IDS = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})


@dataclass(frozen=True)
class PesUnit:
    """One complete PES packet of a selected stream.

    Attributes:
        stream: the stream it belongs to.
        stream_id: the PES ``stream_id``.
        data: the payload (an H.264 access unit, or audio frames).
        pts: presentation time, 90 kHz, unwrapped; None if the header had none.
        dts: decoding time, 90 kHz, unwrapped; None if absent.
        random_access: the TS ``random_access_indicator`` was set on its first packet.
    """

    stream: ElementaryStream
    stream_id: int
    data: bytes
    pts: int | None
    dts: int | None
    random_access: bool


@dataclass(frozen=True)
class DemuxProblem:
    """Something in the input that is not valid MPEG-TS.

    Attributes:
        message: what was wrong.
        pid: the one stream it damaged, or None when it may affect every stream.
    """

    message: str
    pid: int | None = None


DemuxEvent = PesUnit | DemuxProblem


@dataclass
class _Pes:
    stream: ElementaryStream
    buf: bytearray
    random_access: bool
    expected: int | None = None  # total bytes (6 + PES_packet_length) when declared
    header_checked: bool = False


class TsDemuxer:
    """Reassemble the PES units of one program from MPEG-TS bytes fed progressively.

    Args:
        max_pes_bytes: cap on one PES unit; a larger one is dropped as a problem.

    Call :meth:`feed` with each chunk as it arrives and :meth:`end_segment` when a
    segment's bytes are over. Not thread-safe; never blocks.
    """

    def __init__(self, *, max_pes_bytes: int = 8 << 20) -> None:
        self.max_pes_bytes = max_pes_bytes
        self.video: ElementaryStream | None = None
        self.audio: ElementaryStream | None = None
        self._buf = bytearray()
        self._synced = True
        self._pmt_pid: int | None = None
        self._psi: dict[int, bytearray] = {}
        self._pes: dict[int, _Pes] = {}
        self._cc: dict[int, int] = {}
        self._closed_by_hint: set[int] = set()
        self._no_hint: set[int] = set()
        self._ref_ts: int | None = None
        self._events: list[DemuxEvent] = []
        self._segment_bytes = 0
        self.packets = 0
        """TS packets parsed so far."""

    def feed(self, data: bytes | bytearray | memoryview) -> list[DemuxEvent]:
        """Consume ``data``; return the PES units completed and problems met, in order."""
        buf = self._buf
        buf += data
        self._segment_bytes += len(data)
        pos, n = 0, len(buf)
        while pos + PACKET_SIZE <= n:
            if not self._synced or buf[pos] != SYNC_BYTE:
                if self._synced:
                    self._lose_sync(f"0x{buf[pos]:02x} where a TS sync byte (0x47) belongs")
                pos = _find_sync(buf, pos)
                if pos + 3 * PACKET_SIZE > n:
                    break  # wait for enough bytes to confirm the sync
                self._synced = True
            self._packet(buf, pos)
            pos += PACKET_SIZE
        del buf[:pos]
        return self._take()

    def end_segment(self) -> list[DemuxEvent]:
        """Finish the current segment: flush pending units and report truncation.

        Afterwards the demuxer expects a new segment (PAT/PMT first, continuity
        counters restarting); the known streams are kept.
        """
        if self._synced and self._buf:
            self._problem(f"segment ends inside a TS packet ({len(self._buf)} stray bytes)")
        for pid in list(self._pes):
            self._finish(pid, at_end=True)
        if self._segment_bytes and self._synced and self.video is None and self.audio is None:
            self._problem(f"no PAT/PMT in {self._segment_bytes} bytes of input")
        self._buf.clear()
        self._synced = True
        self._psi.clear()
        self._cc.clear()
        self._closed_by_hint.clear()
        self._segment_bytes = 0
        return self._take()

    def _take(self) -> list[DemuxEvent]:
        events, self._events = self._events, []
        return events

    def _problem(self, message: str, pid: int | None = None) -> None:
        logger.debug("MPEG-TS problem: %s", message)
        self._events.append(DemuxProblem(message, pid))

    def _lose_sync(self, what: str) -> None:
        self._problem(f"lost MPEG-TS sync: {what}")
        self._synced = False
        self._pes.clear()
        self._cc.clear()
        self._psi.clear()

    def _packet(self, buf: bytearray, pos: int) -> None:
        self.packets += 1
        b1, b3 = buf[pos + 1], buf[pos + 3]
        pid = ((b1 & 0x1F) << 8) | buf[pos + 2]
        if pid == NULL_PID:
            return
        start, flags, stuffed = pos + 4, 0, False
        if b3 & 0x20:
            af_len = buf[start]
            if af_len > 183:
                self._problem(f"adaptation field of {af_len} bytes on PID {pid}", pid)
                self._pes.pop(pid, None)
                return
            flags, stuffed = _adaptation(buf, start)
            start += 1 + af_len
        random_access, discontinuity = bool(flags & 0x40), bool(flags & 0x80)
        if not b3 & 0x10:
            return
        payload = bytes(buf[start : pos + PACKET_SIZE])
        pusi = bool(b1 & 0x40)
        if pid == PAT_PID or pid == self._pmt_pid:
            self._section(pid, pusi, payload)
            return
        stream = self._stream(pid)
        if stream is None:
            return
        if b1 & 0x80:
            self._drop(pid, f"transport error indicator set on PID {pid}")
            return
        last, cc = self._cc.get(pid), b3 & 0x0F
        self._cc[pid] = cc
        if last is not None and cc != (last + 1) & 0x0F and not discontinuity:
            self._closed_by_hint.discard(pid)
            lost = self._pes.pop(pid, None)
            if lost is not None or not pusi:
                self._problem(f"packets lost on PID {pid} (continuity {last} -> {cc})", pid)
            if not pusi:
                return
        if pusi:
            if pid in self._pes:
                self._finish(pid)
            self._closed_by_hint.discard(pid)
            self._pes[pid] = _Pes(stream, bytearray(payload), random_access)
        elif pid in self._pes:
            self._pes[pid].buf += payload
        else:
            if pid in self._closed_by_hint:
                self._closed_by_hint.discard(pid)
                self._no_hint.add(pid)
                self._problem(f"PID {pid}: a PES continued after stuffing; end hint disabled", pid)
            return
        self._check_complete(pid, stuffed)

    def _check_complete(self, pid: int, stuffed: bool) -> None:
        pes = self._pes[pid]
        if not pes.header_checked and len(pes.buf) >= 6:
            pes.header_checked = True
            if pes.buf[:3] != b"\x00\x00\x01":
                self._drop(pid, f"PID {pid}: PES does not start with 00 00 01")
                return
            length = (pes.buf[4] << 8) | pes.buf[5]
            pes.expected = 6 + length if length else None
        if len(pes.buf) > self.max_pes_bytes:
            self._drop(pid, f"PID {pid}: PES larger than {self.max_pes_bytes} bytes")
        elif pes.expected is not None and len(pes.buf) >= pes.expected:
            self._finish(pid)
        elif pes.expected is None and stuffed and pid not in self._no_hint:
            self._finish(pid)
            self._closed_by_hint.add(pid)

    def _drop(self, pid: int, message: str) -> None:
        if self._pes.pop(pid, None) is not None:
            self._problem(message, pid)

    def _finish(self, pid: int, *, at_end: bool = False) -> None:
        pes = self._pes.pop(pid)
        buf = pes.buf
        if len(buf) < 6 or buf[:3] != b"\x00\x00\x01":
            self._problem(f"PID {pid}: incomplete PES header ({len(buf)} bytes)", pid)
            return
        if pes.expected is not None and len(buf) < pes.expected:
            where = "segment ended" if at_end else "next PES started"
            self._problem(f"PID {pid}: {where} {pes.expected - len(buf)} bytes short of a PES", pid)
            return
        stream_id = buf[3]
        pts = dts = None
        body = 6
        if stream_id not in _NO_HEADER_IDS:
            if len(buf) < 9 or len(buf) < 9 + buf[8]:
                self._problem(f"PID {pid}: truncated PES header", pid)
                return
            if buf[7] & 0x80:
                pts = self._unwrap(decode_timestamp(buf, 9))
            if buf[7] & 0xC0 == 0xC0:
                dts = self._unwrap(decode_timestamp(buf, 14))
            body = 9 + buf[8]
        end = pes.expected if pes.expected is not None else len(buf)
        data = bytes(buf[body:end])
        self._events.append(PesUnit(pes.stream, stream_id, data, pts, dts, pes.random_access))

    def _unwrap(self, raw: int) -> int:
        value = unwrap(raw, self._ref_ts)
        self._ref_ts = value
        return value

    def _stream(self, pid: int) -> ElementaryStream | None:
        if self.video is not None and self.video.pid == pid:
            return self.video
        if self.audio is not None and self.audio.pid == pid:
            return self.audio
        return None

    def _section(self, pid: int, pusi: bool, payload: bytes) -> None:
        if pusi:
            self._psi[pid] = bytearray(payload[1 + payload[0] :])
        elif pid in self._psi:
            self._psi[pid] += payload
        else:
            return
        sec = self._psi[pid]
        if len(sec) < 3:
            return
        total = 3 + (((sec[1] & 0x0F) << 8) | sec[2])
        if total > _MAX_SECTION or total < 12:
            del self._psi[pid]
            self._problem(f"PSI section of {total} bytes on PID {pid}", pid)
            return
        if len(sec) < total:
            return
        section = bytes(sec[:total])
        del self._psi[pid]
        if crc32_mpeg2(section) != 0:
            self._problem(f"PSI section on PID {pid} fails its CRC", pid)
        elif not section[5] & 0x01:
            return  # current_next_indicator 0: not in force yet
        elif pid == PAT_PID and section[0] == 0x00:
            self._parse_pat(section)
        elif pid == self._pmt_pid and section[0] == 0x02:
            self._parse_pmt(section)

    def _parse_pat(self, section: bytes) -> None:
        for pos in range(8, len(section) - 4, 4):
            number = (section[pos] << 8) | section[pos + 1]
            if number:
                pmt_pid = ((section[pos + 2] & 0x1F) << 8) | section[pos + 3]
                self._pmt_pid = pmt_pid
                return

    def _parse_pmt(self, section: bytes) -> None:
        pos = 12 + (((section[10] & 0x0F) << 8) | section[11])
        video = audio = None
        while pos + 5 <= len(section) - 4:
            es_len = ((section[pos + 3] & 0x0F) << 8) | section[pos + 4]
            stream = ElementaryStream(
                pid=((section[pos + 1] & 0x1F) << 8) | section[pos + 2],
                stream_type=section[pos],
                descriptors=section[pos + 5 : pos + 5 + es_len],
            )
            if stream.kind == "video" and video is None:
                video = stream
            elif stream.kind == "audio" and audio is None:
                audio = stream
            pos += 5 + es_len
        if (video, audio) != (self.video, self.audio):
            logger.debug("MPEG-TS program: video %s, audio %s", video, audio)
            for pid in list(self._pes):
                if pid not in {s.pid for s in (video, audio) if s is not None}:
                    del self._pes[pid]
            self.video, self.audio = video, audio
            self._no_hint.clear()


def _adaptation(buf: bytearray, start: int) -> tuple[int, bool]:
    """Return the flags of the adaptation field at ``start`` and whether it pads.

    A field of length 0 or with no flags is there only to pad; otherwise 0xff bytes
    after the flagged fields are stuffing (with private data or an extension present
    this cannot be told, so it counts as no stuffing).
    """
    length = buf[start]
    if length == 0:
        return 0, True
    flags = buf[start + 1]
    used = 1 + 6 * bool(flags & 0x10) + 6 * bool(flags & 0x08) + bool(flags & 0x04)
    return flags, flags == 0 or (not flags & 0x03 and used < length)


def _find_sync(buf: bytearray, start: int) -> int:
    """Return the first index >= ``start`` that starts three TS packets in a row.

    Packets beyond the end of ``buf`` count as matching (more bytes may confirm them);
    returns ``len(buf)`` if there is no candidate.
    """
    n = len(buf)
    i = buf.find(SYNC_BYTE, start)
    while i != -1:
        if all(i + k * PACKET_SIZE >= n or buf[i + k * PACKET_SIZE] == SYNC_BYTE for k in (1, 2)):
            return i
        i = buf.find(SYNC_BYTE, i + 1)
    return n
