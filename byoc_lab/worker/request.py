"""What a stream is asked to do: its channels, its parameters and its session settings.

Light on purpose (no PyAV): the worker's HTTP side builds these before any media code
loads. Stream parameters are a processor's own keys plus the reserved ones pytrickle
defines: ``width``/``height`` (together) and ``max_framerate`` (:class:`FrameShape`);
``detect_out_resolution`` and ``show_loading`` are accepted and ignored (the output
size always follows the processor's frames; there is no loading overlay).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from byoc_lab.errors import ParamError, RequestError
from byoc_lab.trickle import RetryPolicy

from .api import split_params, validate_stream_params

if TYPE_CHECKING:
    from byoc_lab.media import EncoderConfig

__all__ = ["IGNORED_PARAMS", "FrameShape", "SessionConfig", "StreamRequest", "plan_params"]

IGNORED_PARAMS = frozenset({"detect_out_resolution", "show_loading"})
"""pytrickle stream keys that are accepted and have no effect here."""


@dataclass(frozen=True)
class StreamRequest:
    """What ``/stream/start`` asked for (the orchestrator's body, already validated).

    Attributes:
        request_id: ``gateway_request_id`` (the stream id, ``X-Stream-Id``).
        subscribe_url: the input video channel (None: no media input).
        publish_url: the output video channel (None: frames are processed, not sent).
        control_url: parameter updates in, one JSON object per segment.
        events_url: events out, one JSON document per segment.
        data_url: processor data out, JSON lines.
        params: processor parameters plus the reserved ``width``/``height``/
            ``max_framerate``.
    """

    request_id: str
    subscribe_url: str | None = None
    publish_url: str | None = None
    control_url: str | None = None
    events_url: str | None = None
    data_url: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """How a session runs; the defaults suit go-livepeer.

    Attributes:
        encoder: output encoding (None: libx264 ``ultrafast`` CRF 27 with a 2 s GOP,
            which matches pytrickle's ``superfast`` CRF 23 in quality and bitrate for
            ~40% less CPU; see ``transcode.DEFAULT_ENCODER``).
        retry: bounds of every trickle request (reads and writes).
        input_timeout: seconds without a new input segment before the stream fails.
        heartbeat_interval: seconds between heartbeats (the gateway gives up after 30).
        status_interval: seconds between ``status`` events (the gateway's ``/status``
            forgets a stream 60 s after its events start unless they keep coming).
        error_interval: at most one ``error`` event per kind per this many seconds.
        data_interval: seconds between data-channel segments.
        data_keepalive: seconds of data silence before an empty keepalive segment
            (the trickle server closes a channel idle for 5 minutes).
        final_timeout: seconds allowed for the last events, data and channel closes.
        close_channels: DELETE the output, events and data channels at the end, so
            their readers see end of stream rather than silence.
    """

    encoder: EncoderConfig | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    input_timeout: float = 60.0
    heartbeat_interval: float = 10.0
    status_interval: float = 5.0
    error_interval: float = 1.0
    data_interval: float = 0.25
    data_keepalive: float = 25.0
    final_timeout: float = 5.0
    close_channels: bool = True


@dataclass(frozen=True)
class FrameShape:
    """The frame size the processor gets and the highest input frame rate kept.

    Attributes:
        width: frame width for the processor (None: the input's).
        height: frame height for the processor (None: the input's).
        max_framerate: frames per second kept at most (None: all).
    """

    width: int | None = None
    height: int | None = None
    max_framerate: int | None = None

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` when both are set."""
        if self.width is None or self.height is None:
            return None
        return (self.width, self.height)

    def changes(self, other: FrameShape) -> dict[str, Any]:
        """The fields whose value differs in ``other``, with ``other``'s values."""
        keys = ("width", "height", "max_framerate")
        return {k: getattr(other, k) for k in keys if getattr(other, k) != getattr(self, k)}


def plan_params(
    shape: FrameShape, params: Mapping[str, Any]
) -> tuple[FrameShape, dict[str, Any], dict[str, Any]]:
    """Check stream parameters; nothing is applied.

    Returns:
        ``(new shape, processor parameters, all parameters normalised)``.

    Raises:
        ParamError: a reserved key is invalid (width without height, a frame rate out
            of 1..60, …), with the same wording as the HTTP API's 400s.
    """
    try:
        checked = validate_stream_params(params)
    except RequestError as exc:
        raise ParamError(exc.message, expected=exc.expected, got=exc.got) from exc
    reserved, processor_params = split_params(checked)
    processor_params = {k: v for k, v in processor_params.items() if k not in IGNORED_PARAMS}
    if "width" in reserved:
        shape = replace(shape, width=reserved["width"], height=reserved["height"])
    if "max_framerate" in reserved:
        shape = replace(shape, max_framerate=reserved["max_framerate"])
    return shape, processor_params, checked
