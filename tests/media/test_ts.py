"""The pure-Python MPEG-TS layer: CRC, timestamps, muxer output, progressive demuxing."""

from __future__ import annotations

import pytest

from byoc_lab.media.ts import (
    PTS_WRAP,
    ElementaryStream,
    crc32_mpeg2,
    decode_timestamp,
    encode_timestamp,
    unwrap,
)
from byoc_lab.media.tsdemux import DemuxProblem, PesUnit, TsDemuxer
from byoc_lab.media.tsmux import AUDIO_PID, PMT_PID, VIDEO_PID, TsMuxer

from .tstools import ts_packets

OPUS = ElementaryStream(0x101, 0x06, b"\x05\x04Opus\x7f\x02\x80\x02")


def test_crc32_mpeg2_check_value() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7


@pytest.mark.parametrize("ts", [0, 1, 90_000, PTS_WRAP - 1, 0x1_2345_6789 % PTS_WRAP])
def test_timestamp_field_round_trips(ts: int) -> None:
    field = encode_timestamp(0b0010, ts)
    assert field[0] >> 4 == 0b0010
    assert decode_timestamp(field, 0) == ts


def test_unwrap_crosses_the_33_bit_wrap_both_ways() -> None:
    near_end = PTS_WRAP - 3000
    assert unwrap(1000, near_end) == PTS_WRAP + 1000
    assert unwrap(near_end, PTS_WRAP + 1000) == near_end
    assert unwrap(5000, 2000) == 5000
    assert unwrap(7, None) == 7


def test_stream_classification() -> None:
    assert (OPUS.kind, OPUS.codec) == ("audio", "opus")
    assert ElementaryStream(0x100, 0x1B).codec == "h264"
    assert ElementaryStream(0x101, 0x0F).codec == "aac"
    assert ElementaryStream(0x102, 0x06).kind == "other"


def _stream(muxer: TsMuxer, sizes: list[int]) -> tuple[bytes, list[int]]:
    """Tables, then one video PES per size; returns bytes and each PES's end offset."""
    data = bytearray(muxer.tables(OPUS))
    ends = []
    for i, size in enumerate(sizes):
        data += muxer.video(bytes([i % 251]) * size, 3000 * i, keyframe=i == 0)
        ends.append(len(data))
    data += muxer.audio_pes(b"\xaa" * 300, 1234, 0xBD)
    return bytes(data), ends


def test_muxer_writes_valid_packets_with_tables_first() -> None:
    data, _ = _stream(TsMuxer(), [10, 183, 184, 5000, 70_000])
    packets = ts_packets(data)
    assert [pid for _, pid, _ in packets[:2]] == [0, PMT_PID]
    counters: dict[int, int] = {}
    for offset, pid, _ in packets:
        cc = data[offset + 3] & 0x0F
        if pid in counters:
            assert cc == (counters[pid] + 1) % 16
        counters[pid] = cc
    assert set(counters) == {0, PMT_PID, VIDEO_PID, AUDIO_PID}


def test_demuxer_hands_out_each_pes_with_its_last_byte() -> None:
    """Declared PES lengths (and stuffing for >64 KiB frames) end a unit at once."""
    sizes = [10, 183, 184, 5000, 70_000, 20]
    data, ends = _stream(TsMuxer(), sizes)
    demux = TsDemuxer()
    completed_at: list[int] = []
    units: list[PesUnit] = []
    for pos in range(0, len(data), 188):
        for event in demux.feed(data[pos : pos + 188]):
            assert isinstance(event, PesUnit), event
            units.append(event)
            if event.stream.kind == "video":
                completed_at.append(pos + 188)
    assert completed_at == ends
    video = [u for u in units if u.stream.kind == "video"]
    assert [len(u.data) for u in video] == sizes
    assert [u.pts for u in video] == [3000 * i for i in range(len(sizes))]
    assert video[0].random_access
    assert not video[1].random_access
    (sound,) = [u for u in units if u.stream.kind == "audio"]
    assert (sound.data, sound.pts, sound.stream_id) == (b"\xaa" * 300, 1234, 0xBD)
    assert sound.stream.descriptors == OPUS.descriptors
    assert demux.end_segment() == []


def test_demuxer_reports_bad_input_and_recovers() -> None:
    data, _ = _stream(TsMuxer(), [4000, 4000])
    demux = TsDemuxer()
    events = demux.feed(b"\x00" * 1000)
    assert [type(e) for e in events] == [DemuxProblem]
    assert "sync" in str(events[0])
    assert demux.end_segment() == []
    events = demux.feed(data) + demux.end_segment()
    assert [type(e) for e in events] == [PesUnit] * 3


def test_demuxer_reports_a_segment_cut_inside_a_packet() -> None:
    data, ends = _stream(TsMuxer(), [4000, 4000])
    demux = TsDemuxer()
    events = demux.feed(data[: ends[0] + 500])
    assert [type(e) for e in events] == [PesUnit]
    problems = demux.end_segment()
    messages = [e.message for e in problems if isinstance(e, DemuxProblem)]
    assert len(messages) == len(problems) == 2
    assert "inside a TS packet" in messages[0]
    assert "short of a PES" in messages[1]


def _packet(pid: int, cc: int, payload: bytes, *, pusi: bool, pad: int = 0) -> bytes:
    """One TS packet; ``pad`` > 0 adds an adaptation field of that many bytes (stuffing)."""
    head = bytes((0x47, (0x40 if pusi else 0) | pid >> 8, pid & 0xFF, (0x30 if pad else 0x10) | cc))
    field = bytes((pad - 1, 0)) + b"\xff" * (pad - 2) if pad else b""
    packet = head + field + payload
    assert len(packet) == 188
    return packet


def test_stuffing_that_is_not_an_end_mark_is_reported_and_no_longer_trusted() -> None:
    pes_head = b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + encode_timestamp(2, 0)  # length 0
    stream = TsMuxer().tables(None)
    stream += _packet(VIDEO_PID, 0, pes_head + b"\x01" * 140, pusi=True, pad=30)
    stream += _packet(VIDEO_PID, 1, b"\x02" * 184, pusi=False)  # the PES goes on after all
    stream += _packet(VIDEO_PID, 2, pes_head + b"\x03" * 140, pusi=True, pad=30)
    stream += _packet(VIDEO_PID, 3, b"\x04" * 184, pusi=False)
    stream += _packet(VIDEO_PID, 4, pes_head + b"\x05" * 170, pusi=True)
    demux = TsDemuxer()
    per_packet = [demux.feed(stream[pos : pos + 188]) for pos in range(0, len(stream), 188)]
    kinds = [[type(e).__name__ for e in events] for events in per_packet[2:]]
    # Trusted once, found wrong, then units end only when the next one starts.
    assert kinds == [["PesUnit"], ["DemuxProblem"], [], [], ["PesUnit"]]
    assert "stuffing" in str(per_packet[3][0])
    (last,) = demux.end_segment()
    assert isinstance(last, PesUnit)
    assert last.data == b"\x05" * 170
