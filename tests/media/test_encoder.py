"""SegmentEncoder: self-contained segments that ffprobe reads, bytes out per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from byoc_lab.errors import EncodeError, RuntimeStateError
from byoc_lab.media import (
    CLOCK,
    AudioPacket,
    Chunk,
    ElementaryStream,
    EncoderConfig,
    SegmentEncoder,
    decode_segments,
    encode_clip,
    split_segments,
)
from byoc_lab.sources import SyntheticSource

from .tstools import need_ffmpeg, probe_packets, probe_streams, ts_packets


def _frames(count: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    source = SyntheticSource("gradient", width=width, height=height, count=count)
    return [f.image for f in source]


def _write(tmp_path: Path, segments: list[bytes]) -> list[Path]:
    paths = []
    for i, segment in enumerate(segments):
        path = tmp_path / f"out{i}.ts"
        path.write_bytes(segment)
        paths.append(path)
    return paths


def test_segments_are_self_contained_and_read_by_ffprobe(tmp_path: Path) -> None:
    need_ffmpeg()
    segments = encode_clip(_frames(75), config=EncoderConfig(gop_frames=30))
    assert len(segments) == 3
    for path, expected in zip(_write(tmp_path, segments), [30, 30, 15], strict=True):
        data = path.read_bytes()
        assert ts_packets(data)[0][1] == 0  # the PAT comes first
        assert ts_packets(data)[1][1] == 0x1000  # then the PMT
        video = probe_streams(path)["video"]
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
        assert int(video["nb_read_frames"]) == expected
        keys = ["K" in p["flags"] for p in probe_packets(path, "v")]
        assert keys == [True] + [False] * (expected - 1)


def test_gop_in_seconds_follows_presentation_time() -> None:
    encoder = SegmentEncoder(EncoderConfig(gop_seconds=0.5))
    chunks: list[Chunk] = []
    for i, image in enumerate(_frames(40)):
        chunks += encoder.encode(image, 1_000_000 + i * CLOCK // 20)  # 20 fps
    chunks += encoder.close()
    starts = [c.pts for c in chunks if c.starts_segment]
    assert starts == [1_000_000 + i * CLOCK // 2 for i in range(4)]


def test_each_frame_is_returned_by_its_own_encode_call() -> None:
    encoder = SegmentEncoder(EncoderConfig(gop_frames=10))
    for i, image in enumerate(_frames(25)):
        chunks = encoder.encode(image, i * 3000)
        assert [c.pts for c in chunks] == [i * 3000]  # no frame held back
        assert chunks[0].starts_segment == (i % 10 == 0)
        first_pid = ts_packets(chunks[0].data)[0][1]
        assert first_pid == (0 if i % 10 == 0 else 0x100)
    assert encoder.close() == []
    assert (encoder.stats.frames, encoder.stats.segments) == (25, 3)


def test_size_change_starts_a_new_segment(tmp_path: Path) -> None:
    need_ffmpeg()
    encoder = SegmentEncoder()
    chunks: list[Chunk] = []
    images = _frames(10) + _frames(10, width=160, height=96)
    for i, image in enumerate(images):
        chunks += encoder.encode(image, i * 3000)
    chunks += encoder.close()
    assert [c.pts for c in chunks if c.starts_segment] == [0, 30_000]
    paths = _write(tmp_path, split_segments(chunks))
    sizes = [
        (probe_streams(p)["video"]["width"], probe_streams(p)["video"]["height"]) for p in paths
    ]
    assert sizes == [(320, 240), (160, 96)]


def test_time_going_backwards_starts_a_new_segment() -> None:
    encoder = SegmentEncoder()
    chunks: list[Chunk] = []
    for pts in [90_000, 93_000, 96_000, 0, 3000]:
        chunks += encoder.encode(_frames(1)[0], pts)
    assert [c.pts for c in chunks if c.starts_segment] == [90_000, 0]


def test_flush_emits_everything_and_the_next_frame_opens_a_segment() -> None:
    encoder = SegmentEncoder()
    image = _frames(1)[0]
    assert encoder.encode(image, 0)[0].starts_segment
    assert encoder.flush() == []  # zerolatency libx264 holds nothing back
    assert encoder.encode(image, 3000)[0].starts_segment


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((240, 321, 3), np.uint8), "even"),
        (np.zeros((240, 320, 3), np.float32), "RGB"),
        (np.zeros((240, 320), np.uint8), "RGB"),
    ],
)
def test_frames_the_encoder_cannot_take(image: np.ndarray, match: str) -> None:
    with pytest.raises(EncodeError, match=match):
        SegmentEncoder().encode(image, 0)


def test_closed_encoder_refuses_work() -> None:
    encoder = SegmentEncoder()
    encoder.close()
    with pytest.raises(RuntimeStateError):
        encoder.encode(_frames(1)[0], 0)


@pytest.mark.parametrize(
    "kwargs",
    [{"fps": 0}, {"gop_seconds": -1}, {"gop_frames": 0}, {"preset": "warp"}, {"crf": 60}],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(EncodeError, match="invalid encoder configuration"):
        EncoderConfig(**kwargs)  # type: ignore[arg-type]


def test_audio_waits_for_a_segment_that_declares_it() -> None:
    aac = ElementaryStream(0x44, 0x0F)
    opus = ElementaryStream(0x44, 0x06, b"\x05\x04Opus\x7f\x02\x80\x02")
    encoder = SegmentEncoder(EncoderConfig(gop_frames=2))
    image = _frames(1)[0]
    assert encoder.add_audio(AudioPacket(b"early", 100, aac, 0xC0)) == []
    first = encoder.encode(image, 3000)  # keyframe; PMT declares AAC; the early packet follows
    assert [c.pts for c in first] == [3000, None]
    assert len(encoder.add_audio(AudioPacket(b"aac", 200, aac, 0xC0))) == 1
    assert encoder.add_audio(AudioPacket(b"opus", 300, opus, 0xBD)) == []  # not declared yet
    assert [c.pts for c in encoder.encode(image, 6000)] == [6000]
    assert [c.pts for c in encoder.encode(image, 9000)] == [9000, None]  # new PMT: Opus
    assert encoder.add_audio(AudioPacket(b"late aac", 400, aac, 0xC0)) == []
    encoder.close()
    assert (encoder.stats.audio_packets, encoder.stats.audio_dropped) == (3, 1)

    items = decode_segments(split_segments(first))
    (early,) = [i for i in items if isinstance(i, AudioPacket)]
    assert (early.data, early.pts, early.stream.codec, early.stream_id) == (
        b"early",
        100,
        "aac",
        0xC0,
    )
