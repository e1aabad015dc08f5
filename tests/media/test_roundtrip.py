"""Encode -> decode round trips, progressive end to end, and audio passthrough."""

from __future__ import annotations

from pathlib import Path

import pytest

from byoc_lab.framecode import read_frame_number
from byoc_lab.media import (
    AudioPacket,
    Chunk,
    DecodedVideoFrame,
    EncoderConfig,
    SegmentEncoder,
    StreamDecoder,
    decode_segments,
    encode_clip,
    split_segments,
)
from byoc_lab.sources import SyntheticSource

from .conftest import MakeClip
from .tstools import frames, probe_packets, probe_streams


def test_every_frame_number_survives_encode_and_decode() -> None:
    source = SyntheticSource("bars", width=320, height=240, count=75)
    segments = encode_clip((f.image for f in source), fps=30, config=EncoderConfig(gop_frames=30))
    decoded = frames(decode_segments(segments, chunk_size=1000))
    assert [read_frame_number(f.image) for f in decoded] == list(range(75))
    assert [f.pts for f in decoded] == [i * 3000 for i in range(75)]


def test_each_encoded_chunk_decodes_to_its_frame_at_once() -> None:
    """Encoder chunk i fed to the decoder gives frame i from that same feed call."""
    encoder = SegmentEncoder(EncoderConfig(gop_frames=20))
    decoder = StreamDecoder()
    source = SyntheticSource("checker", width=256, height=144, count=50)
    for frame in source:
        (chunk,) = encoder.encode(frame.image, frame.index * 3000)
        if chunk.starts_segment and frame.index:
            assert decoder.end_segment() == []
        (out,) = decoder.feed(chunk.data)
        assert isinstance(out, DecodedVideoFrame)
        assert read_frame_number(out.image) == frame.index
        assert out.pts == frame.index * 3000


@pytest.mark.parametrize("codec", ["libopus", "aac"])
def test_audio_is_passed_through(make_clip: MakeClip, tmp_path: Path, codec: str) -> None:
    clip = make_clip(audio=codec)
    decoder = StreamDecoder()
    encoder = SegmentEncoder(EncoderConfig(gop_frames=30))
    chunks: list[Chunk] = []
    for segment in clip.segments:
        for pos in range(0, len(segment), 1316):
            items = decoder.feed(segment[pos : pos + 1316])
            encoder.set_audio(decoder.audio_stream)
            for item in items:
                if isinstance(item, AudioPacket):
                    chunks += encoder.add_audio(item)
                else:
                    chunks += encoder.encode(item.image, item.pts)
        assert decoder.end_segment() == []
    chunks += encoder.close()
    assert encoder.stats.audio_dropped == 0

    def totals(paths: list[Path], kind: str) -> list[int]:
        return [p["pts"] for path in paths for p in probe_packets(path, kind)]

    outputs = []
    for i, segment in enumerate(split_segments(chunks)):
        outputs.append(tmp_path / f"out{i}.ts")
        outputs[-1].write_bytes(segment)
    assert len(outputs) == 3
    for path in outputs:
        streams = probe_streams(path)
        assert streams["audio"]["codec_name"] == ("opus" if codec == "libopus" else "aac")
        assert int(streams["video"]["nb_read_frames"]) == 30
    # Same audio packets, same timestamps; the video keeps the input's clock too.
    assert totals(outputs, "a") == totals(clip.paths, "a")
    assert totals(outputs, "v") == totals(clip.paths, "v")
