"""The trickle wire format: every header, status, sentinel and route shape in one place.

Trickle moves a channel as numbered segments over plain HTTP: ``POST {channel}/{seq}``
streams one segment in, ``GET {channel}/{seq}`` streams it out while it is still
arriving. The names and numbers below are those of go-livepeer's ``trickle/`` package
and http-trickle; nothing else in :mod:`byoc_lab.trickle` spells a header or a status.
"""

from __future__ import annotations

import re
from typing import Final

from byoc_lab.errors import ChannelNameError

__all__ = [
    "CHANNEL_NAME_MAX",
    "CLOSED_TERMINATED",
    "CONTENT_TYPE_DEFAULT",
    "CONTENT_TYPE_JSON",
    "CONTENT_TYPE_JSONL",
    "CONTENT_TYPE_MPEGTS",
    "HEADER_CLOSED",
    "HEADER_EXPECT_CONTENT",
    "HEADER_LATEST",
    "HEADER_RESET",
    "HEADER_SEQ",
    "IDLE_TIMEOUT_S",
    "NEXT_ROUTE",
    "SEQ_CURRENT",
    "SEQ_NEXT",
    "STATUS_SEGMENT_NOT_FOUND",
    "SWEEP_INTERVAL_S",
    "WINDOW_SEGMENTS",
    "channel_url",
    "check_channel_name",
    "format_seq",
    "is_valid_channel_name",
    "parse_seq",
    "route_prefix",
    "segment_url",
]

# -- headers ---------------------------------------------------------------------------

HEADER_SEQ: Final = "Lp-Trickle-Seq"
"""The sequence number a response is about (the actual one when ``-1``/``-2`` was asked)."""

HEADER_LATEST: Final = "Lp-Trickle-Latest"
"""The server's next write position; a subscriber that fell behind jumps there."""

HEADER_CLOSED: Final = "Lp-Trickle-Closed"
"""Present (value :data:`CLOSED_TERMINATED`) when the channel is closed: end of stream."""

HEADER_RESET: Final = "Lp-Trickle-Reset"
"""On a POST, any value closes every earlier segment (a publisher that restarted)."""

HEADER_EXPECT_CONTENT: Final = "Expect-Content"
"""On ``POST {channel}`` (explicit create), the mime type the channel will serve."""

CLOSED_TERMINATED: Final = "terminated"
"""The value servers put in :data:`HEADER_CLOSED`. Clients test for presence only."""

# -- statuses and sentinels ------------------------------------------------------------

STATUS_SEGMENT_NOT_FOUND: Final = 470
"""The channel exists but the segment is outside its window (read :data:`HEADER_LATEST`)."""

SEQ_NEXT: Final = -1
"""As a GET seq: wait for the next segment to be written. As a POST seq: the next write."""

SEQ_CURRENT: Final = -2
"""As a GET seq: the segment being written now, or the last one written (0 if none)."""

NEXT_ROUTE: Final = "next"
"""``GET {channel}/next`` (go-livepeer): plain-text body with the next write position."""

# -- server constants (go-livepeer defaults) -------------------------------------------

WINDOW_SEGMENTS: Final = 5
"""Segments a channel keeps (``maxSegmentsPerStream``); older ones answer 470."""

IDLE_TIMEOUT_S: Final = 300.0
"""A channel with no new segment for this long is closed by the sweep."""

SWEEP_INTERVAL_S: Final = 60.0
"""How often the server looks for idle channels."""

# -- content types ---------------------------------------------------------------------

CONTENT_TYPE_MPEGTS: Final = "video/MP2T"
"""Video channels: one self-contained MPEG-TS per segment (go-livepeer's spelling)."""

CONTENT_TYPE_JSON: Final = "application/json"
"""Control and events channels: one JSON document per segment."""

CONTENT_TYPE_JSONL: Final = "application/jsonl"
"""Data channels: newline-delimited text, one SSE event per line at the gateway."""

CONTENT_TYPE_DEFAULT: Final = "application/octet-stream"
"""What a channel serves when its creator named no type."""

# -- channel names ---------------------------------------------------------------------

CHANNEL_NAME_MAX: Final = 128
_CHANNEL_NAME_RE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{CHANNEL_NAME_MAX - 1}}}")
_SEQ_RE: Final = re.compile(r"-?[0-9]{1,18}")


def is_valid_channel_name(name: str) -> bool:
    """Whether ``name`` can be a channel: 1-128 of ``A-Za-z0-9._-``, no ``..``.

    The first character is a letter or digit, so names never start with ``_``
    (go-livepeer reserves those for internal channels such as ``_changes``) or ``.``.
    """
    return _CHANNEL_NAME_RE.fullmatch(name) is not None and ".." not in name


def check_channel_name(name: str) -> str:
    """Return ``name`` unchanged if it is a valid channel name.

    Raises:
        ChannelNameError: the name is empty, too long or has unsafe characters.
    """
    if not is_valid_channel_name(name):
        raise ChannelNameError(
            "invalid trickle channel name",
            expected=f"1-{CHANNEL_NAME_MAX} characters of A-Z a-z 0-9 . _ - "
            "starting with a letter or digit, without '..'",
            got=repr(name[: CHANNEL_NAME_MAX + 8]),
        )
    return name


# -- sequence numbers ------------------------------------------------------------------


def parse_seq(text: str | None) -> int | None:
    """Parse a decimal sequence number from a path segment or header; None if malformed.

    Only an optional ``-`` and up to 18 ASCII digits are accepted (no ``+``, spaces or
    ``_``): a strict subset of what go-livepeer's ``strconv.Atoi`` takes.
    """
    if text is None or _SEQ_RE.fullmatch(text) is None:
        return None
    return int(text)


def format_seq(seq: int) -> str:
    """The header and path form of a sequence number."""
    return str(seq)


# -- URLs ------------------------------------------------------------------------------


def route_prefix(base_path: str) -> str:
    """Normalise a server base path to ``/`` or ``/a/b/`` (leading and trailing slash).

    go-livepeer mounts its channels under ``/ai/trickle/``; a standalone server uses ``/``.
    """
    inner = base_path.strip("/")
    return f"/{inner}/" if inner else "/"


def channel_url(base_url: str, name: str) -> str:
    """The URL of channel ``name`` under a server base URL such as ``https://o:8935/ai/trickle/``.

    Raises:
        ChannelNameError: ``name`` is not a valid channel name.
    """
    return f"{base_url.rstrip('/')}/{check_channel_name(name)}"


def segment_url(channel: str, seq: int) -> str:
    """The URL of segment ``seq`` (or a sentinel) of the channel at URL ``channel``."""
    return f"{channel.rstrip('/')}/{format_seq(seq)}"
