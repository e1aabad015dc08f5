"""StreamDecoder on clips made by ffmpeg: every frame, right pixels, as bytes arrive."""

from __future__ import annotations

import contextlib
import random
import subprocess
import tracemalloc

import numpy as np
import pytest

from byoc_lab.errors import DecodeError
from byoc_lab.media import MediaItem, StreamDecoder, decode_segments

from .conftest import Clip, MakeClip
from .tstools import audio, ffmpeg_rgb, frames, probe_streams, ts_packets


def _feed_all(decoder: StreamDecoder, segment: bytes, chunk: int) -> list[MediaItem]:
    items: list[MediaItem] = []
    for pos in range(0, len(segment), chunk):
        items += decoder.feed(segment[pos : pos + chunk])
    return items + decoder.end_segment()


def _feed_counting_errors(
    decoder: StreamDecoder, segment: bytes, chunk: int, errors: list[str] | None = None
) -> int:
    """Feed a segment, collecting DecodeErrors in ``errors``; return the frames out."""
    count = 0
    pieces: list[bytes | None] = [segment[p : p + chunk] for p in range(0, len(segment), chunk)]
    for piece in [*pieces, None]:  # None: the segment's end
        try:
            count += len(frames(decoder.end_segment() if piece is None else decoder.feed(piece)))
        except DecodeError as exc:
            if errors is not None:
                errors.append(str(exc))
    return count


@pytest.mark.parametrize("codec", ["libopus", "aac"])
def test_decodes_every_frame_of_an_ffmpeg_clip(make_clip: MakeClip, codec: str) -> None:
    clip = make_clip(audio=codec)
    decoder = StreamDecoder()
    items = [i for s in clip.segments for i in _feed_all(decoder, s, 1316)] + decoder.flush()
    expected = sum(int(probe_streams(p)["video"]["nb_read_frames"]) for p in clip.paths)
    assert expected == 90
    decoded = frames(items)
    assert len(decoded) == expected
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in decoded)
    assert [f.pts - decoded[0].pts for f in decoded] == [3000 * i for i in range(expected)]
    assert [f.keyframe for f in decoded] == [i % 30 == 0 for i in range(expected)]
    sound = audio(items)
    assert sound
    assert {a.stream.codec for a in sound} == {"opus" if codec == "libopus" else "aac"}
    assert decoder.stats.errors == 0
    assert decoder.video_stream is not None
    assert decoder.video_stream.codec == "h264"


def test_pixels_match_what_ffmpeg_decodes(make_clip: MakeClip) -> None:
    clip = make_clip()
    ours = [f.image for f in frames(decode_segments(clip.segments))]
    reference = np.concatenate([ffmpeg_rgb(p, 320, 240) for p in clip.paths])
    assert len(ours) == len(reference) == 90
    for mine, theirs in zip(ours, reference, strict=True):
        diff = np.abs(mine.astype(np.int16) - theirs.astype(np.int16))
        assert diff.mean() < 1.0
        assert np.percentile(diff, 99.9) <= 8


def test_each_frame_comes_out_before_the_next_frame_bytes_arrive(make_clip: MakeClip) -> None:
    """Fed one TS packet at a time, a frame is out as soon as its PES visibly ends.

    FFmpeg pads the last TS packet of a PES with adaptation-field stuffing; with that
    mark the frame must come out before the next frame's first packet is fed. Only a
    PES that fills its last packet exactly (no mark) may wait for that next packet.
    """
    clip = make_clip()
    segment = clip.segments[0]
    video_pid = 0x100  # ffmpeg's first elementary stream PID
    packets = [(off, start) for off, pid, start in ts_packets(segment) if pid == video_pid]
    starts = [off for off, start in packets if start]
    # For each PES but the last: does its final packet carry an adaptation field?
    marked_end = [
        bool(segment[packets[i - 1][0] + 3] & 0x20) for i in range(1, len(packets)) if packets[i][1]
    ]
    decoder = StreamDecoder()
    out_at: list[int] = []
    for pos in range(0, len(segment), 188):
        out_at += [pos + 188] * len(frames(decoder.feed(segment[pos : pos + 188])))
    assert len(out_at) == len(starts) == 30  # no frame waits for the end of the segment
    assert out_at[0] < len(segment) // 10
    for k, (out, next_start) in enumerate(zip(out_at, starts[1:], strict=False)):
        if marked_end[k]:
            assert out <= next_start, f"frame {k} came out late"
        else:
            assert out <= next_start + 188, f"frame {k} came out late"
    assert sum(marked_end) >= 25
    assert not frames(decoder.end_segment())


def test_follows_a_new_stream_with_another_size_and_pids(make_clip: MakeClip) -> None:
    first, second = make_clip(), make_clip(width=176, height=144, seconds=1, start_pid=0x150)
    decoder = StreamDecoder()
    items = [i for s in first.segments + second.segments for i in _feed_all(decoder, s, 4096)]
    shapes = [f.image.shape for f in frames(items + decoder.flush())]
    assert shapes == [(240, 320, 3)] * 90 + [(144, 176, 3)] * 30
    assert decoder.video_stream is not None
    assert decoder.video_stream.pid == 0x150
    assert decoder.stats.errors == 0


def test_b_frames_come_out_in_order_by_the_segment_end(make_clip: MakeClip) -> None:
    clip = make_clip(bframes=2, seconds=2)
    decoder = StreamDecoder()
    items = [i for s in clip.segments for i in _feed_all(decoder, s, 1316)]
    pts = [f.pts for f in frames(items)]
    assert len(pts) == 60
    assert [p - pts[0] for p in pts] == [3000 * i for i in range(60)]
    assert decoder.flush() == []


def test_other_video_codecs_raise_and_audio_still_flows(make_clip: MakeClip) -> None:
    if (
        b"libx265"
        not in subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True).stdout
    ):
        pytest.skip("this ffmpeg has no libx265")
    clip = make_clip(video="libx265", seconds=1, width=176, height=144)
    decoder = StreamDecoder()
    errors: list[str] = []
    assert _feed_counting_errors(decoder, clip.segments[0], 1316, errors) == 0
    assert len(errors) == decoder.stats.errors == 1
    assert "video codec hevc" in errors[0]
    assert decoder.stats.audio_packets > 0


def test_garbage_raises_once_and_the_next_segment_decodes(make_clip: MakeClip) -> None:
    clip = make_clip()
    decoder = StreamDecoder()
    garbage = random.Random(1234).randbytes(100_000)  # seeded: the same garbage every run
    with pytest.raises(DecodeError, match="sync"):
        decoder.feed(garbage[:1000])
    assert decoder.feed(garbage[1000:]) == []  # the same bad stretch is reported once
    assert decoder.end_segment() == []
    assert decoder.stats.errors == 1
    assert len(frames(_feed_all(decoder, clip.segments[1], 1316))) == 30
    assert decoder.stats.errors == 1


@pytest.mark.parametrize("cut", [0.4, 0.75, 188 * 40, 188 * 40 + 77])
def test_truncated_segment_raises_and_the_next_decodes(make_clip: MakeClip, cut: float) -> None:
    clip = make_clip()
    segment = clip.segments[0]
    end = int(cut * len(segment)) if cut < 1 else int(cut)
    decoder = StreamDecoder()
    items: list[MediaItem] = []
    for pos in range(0, end, 1316):
        items += decoder.feed(segment[pos : min(pos + 1316, end)])
    with pytest.raises(DecodeError):
        items += decoder.end_segment()
    assert decoder.stats.errors == 1
    assert 0 < len(frames(items)) < 30
    assert len(frames(_feed_all(decoder, clip.segments[1], 1316))) == 30
    assert decoder.stats.errors == 1


def test_every_bad_segment_is_reported(make_clip: MakeClip) -> None:
    clip = make_clip()
    decoder = StreamDecoder()
    for _ in range(3):
        errors: list[str] = []
        _feed_counting_errors(decoder, clip.segments[0][: 188 * 50 + 10], 1316, errors)
        assert len(errors) == 1
    assert decoder.stats.errors == 3
    assert len(frames(_feed_all(decoder, clip.segments[1], 1316))) == 30


def test_lost_audio_is_reported_but_video_keeps_flowing(make_clip: MakeClip) -> None:
    segment = make_clip().segments[0]
    audio_packets = [off for off, pid, _ in ts_packets(segment) if pid == 0x101]
    cut = audio_packets[3]
    damaged = segment[:cut] + segment[cut + 188 :]
    decoder = StreamDecoder()
    errors: list[str] = []
    assert _feed_counting_errors(decoder, damaged, 1316, errors) == 30
    assert len(errors) == 1
    assert "PID 257" in errors[0]


def test_frames_decoded_before_an_error_are_returned_by_the_next_call(
    make_clip: MakeClip,
) -> None:
    clip = make_clip()
    decoder = StreamDecoder()
    with pytest.raises(DecodeError):
        decoder.feed(clip.segments[0] + b"\x00" * 2000)
    assert len(frames(decoder.end_segment())) == 30


def test_oversized_frame_is_a_decode_error(make_clip: MakeClip) -> None:
    clip = make_clip()
    decoder = StreamDecoder(max_pes_bytes=2000)
    assert _feed_counting_errors(decoder, clip.segments[0], 1316) < 30
    assert decoder.stats.errors >= 1
    big = StreamDecoder()
    assert _feed_counting_errors(big, clip.segments[0], 1316) == 30


def test_buffers_stay_bounded_on_endless_garbage(make_clip: MakeClip) -> None:
    clip: Clip = make_clip()
    decoder = StreamDecoder()
    junk = random.Random(5678).randbytes(64 * 1024)
    tracemalloc.start()
    try:
        _feed_counting_errors(decoder, junk, 64 * 1024)
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(100):  # 6.4 MB of garbage in one "segment"
            with contextlib.suppress(DecodeError):
                decoder.feed(junk)
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024
    decoder.end_segment()
    assert len(frames(_feed_all(decoder, clip.segments[2], 1316))) == 30
