"""Media codec: MPEG-TS segments with H.264 video and passed-through audio.

The only part of byoc_lab that imports PyAV (``av``); ``import byoc_lab`` does not
load it. Import this package when a stream first needs media::

    from byoc_lab.media import SegmentEncoder, StreamDecoder

    decoder = StreamDecoder()
    for chunk in segment_body:             # bytes as they arrive
        for item in decoder.feed(chunk):   # DecodedVideoFrame or AudioPacket
            ...
    decoder.end_segment()

Modules: :mod:`.ts` (shared MPEG-TS vocabulary), :mod:`.tsdemux` and :mod:`.tsmux`
(pure Python), :mod:`.decoder` and :mod:`.encoder` (PyAV).
"""

from __future__ import annotations

from .decoder import DecodedVideoFrame, DecoderStats, MediaItem, StreamDecoder, decode_segments
from .encoder import (
    Chunk,
    EncoderConfig,
    EncoderStats,
    SegmentEncoder,
    encode_clip,
    split_segments,
)
from .ts import CLOCK, TIME_BASE, AudioPacket, ElementaryStream, seconds_to_pts

__all__ = [
    "CLOCK",
    "TIME_BASE",
    "AudioPacket",
    "Chunk",
    "DecodedVideoFrame",
    "DecoderStats",
    "ElementaryStream",
    "EncoderConfig",
    "EncoderStats",
    "MediaItem",
    "SegmentEncoder",
    "StreamDecoder",
    "decode_segments",
    "encode_clip",
    "seconds_to_pts",
    "split_segments",
]
