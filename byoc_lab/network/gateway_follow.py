"""A gateway's view of one stream, and how it follows the stream's events and data.

- :func:`parse_start_request`: go-livepeer's ``StartRequest`` and its stream id rules.
- :func:`follow_events`: subscribe to ``{id}-events``; each segment is one JSON event,
  either ``{"queue_event_type": …, "event": {…}}`` or a bare event; ``type == "status"``
  becomes the stream's status, ``type == "error"`` its error (byoc_lab's orchestrator
  sends one when the worker is gone). go-livepeer's 30 s watchdog: no event within
  ``events_timeout`` ends the stream.
- :func:`follow_data`: subscribe to ``{id}-data`` and hand every line (split at
  newlines, a trailing carriage return trimmed, as Go's ``bufio.Scanner`` does) to the
  stream's :class:`DataHub`.
  A line over 64 KiB is dropped with a warning (go-livepeer's scanner fails the
  segment and retries it until the stream stops).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from byoc_lab.errors import RequestError
from byoc_lab.network.gateway_status import DataHub, StatusStore
from byoc_lab.network.gojson import get_string, load_struct
from byoc_lab.network.wire import check_stream_id, random_stream_id
from byoc_lab.trickle import RetryPolicy, TrickleSegment, TrickleSubscriber
from byoc_lab.trickle.wire import SEQ_CURRENT

__all__ = [
    "GatewayStream",
    "StreamView",
    "follow_data",
    "follow_events",
    "parse_start_request",
]

logger = logging.getLogger(__name__)

LINE_MAX = 64 * 1024
_EVENT_MAX = 1024 * 1024


@dataclass(frozen=True)
class StreamView:
    """A snapshot of one stream running through the gateway.

    ``urls`` maps ``trickle_publish_url``, ``trickle_subscribe_url``,
    ``trickle_control_url``, ``trickle_events_url`` and ``trickle_data_url`` to the
    orchestrator's channel URLs ("" for channels the stream does not have).
    """

    stream_id: str
    capability: str
    orchestrator: str
    urls: dict[str, str]
    age_s: float


@dataclass
class GatewayStream:
    """One stream the gateway started; owned by :class:`GatewayStreams`."""

    stream_id: str
    capability: str
    request_id: str
    orchestrator: str
    timeout_seconds: int
    urls: dict[str, str]
    hub: DataHub | None
    started: float = field(default_factory=time.monotonic)
    tasks: list[Any] = field(default_factory=list)

    def view(self) -> StreamView:
        """A snapshot for callers."""
        age = time.monotonic() - self.started
        return StreamView(self.stream_id, self.capability, self.orchestrator, dict(self.urls), age)


def parse_start_request(body: bytes) -> tuple[str, dict[str, Any] | None]:
    """Decode a ``StartRequest``; return the stream id and the params object (or None).

    The id is ``stream_id``, or 8 random hex characters, prefixed ``{stream_name}-``
    when a name is given (go-livepeer's rules).

    Raises:
        RequestError: 400 naming ``body``, ``params``, ``stream_id`` or ``stream_name``.
    """
    what = "the StartRequest body"
    fields = ("stream_name", "rtmp_output", "stream_id", "params")
    data = load_struct(body, fields, what=what, field="body")
    name = get_string(data, "stream_name", what=what)
    given = get_string(data, "stream_id", what=what)
    get_string(data, "rtmp_output", what=what)
    raw_params = get_string(data, "params", what=what)
    params: dict[str, Any] | None = None
    if raw_params:
        expected = 'a JSON object in a string, e.g. "{\\"width\\": 512}"'
        try:
            decoded = json.loads(raw_params)
        except (ValueError, RecursionError) as exc:
            raise RequestError("invalid model params", field="params", expected=expected) from exc
        if decoded is not None and not isinstance(decoded, dict):
            raise RequestError("invalid model params", field="params", expected=expected)
        params = decoded
    if name:
        check_stream_id(name, field="stream_name")
        if name.endswith("-out"):
            raise RequestError(
                "stream_name must not end in -out (go-livepeer keeps the suffix for outputs)",
                field="stream_name",
            )
    stream_id = check_stream_id(given, field="stream_id") if given else random_stream_id()
    return check_stream_id(f"{name}-{stream_id}" if name else stream_id), params


async def follow_events(
    http: aiohttp.ClientSession,
    stream: GatewayStream,
    status: StatusStore,
    events_timeout: float | None,
) -> None:
    """Apply the stream's events to ``status`` until the events channel closes.

    Raises:
        TrickleTimeoutError: no event within ``events_timeout`` (the watchdog), or the
            orchestrator stayed unreachable.
        TrickleError: the channel vanished or answered an unexpected status.
    """
    retry = RetryPolicy(attempts=5, delay=0.3, wait_timeout=events_timeout)
    url = stream.urls["trickle_events_url"]
    async with TrickleSubscriber(http, url, start_seq=SEQ_CURRENT, retry=retry) as events:
        async for segment in events:
            body = await _read_bounded(segment, _EVENT_MAX)
            if body is not None:
                _apply_event(stream, status, body)


def _apply_event(stream: GatewayStream, status: StatusStore, body: bytes) -> None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        logger.debug("stream %s: an event that is not JSON was ignored", stream.stream_id)
        return
    if not isinstance(document, dict):
        return
    inner = document.get("event")
    event = dict(inner if isinstance(inner, dict) else document)
    event.update(
        stream_id=stream.stream_id,
        request_id=stream.request_id,
        pipeline_id="",
        orchestrator_info={"address": "", "url": stream.orchestrator},
    )
    kind = event.get("type")
    logger.debug("stream %s: event %s", stream.stream_id, kind)
    if kind == "status":
        status.store_event(stream.stream_id, event)
    elif kind == "error":
        status.set_error(
            stream.stream_id, str(event.get("message", "the worker reported an error"))
        )


async def follow_data(http: aiohttp.ClientSession, stream: GatewayStream, hub: DataHub) -> None:
    """Publish every line of the stream's data channel to ``hub`` until it closes.

    Raises:
        TrickleError: the channel vanished or the orchestrator stayed unreachable.
    """
    retry = RetryPolicy(attempts=5, delay=0.3, wait_timeout=None)
    url = stream.urls["trickle_data_url"]
    async with TrickleSubscriber(http, url, start_seq=SEQ_CURRENT, retry=retry) as data:
        async for segment in data:
            await _split_lines(segment, hub, stream.stream_id)


async def _read_bounded(segment: TrickleSegment, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in segment:
        size += len(chunk)
        if size > limit:
            logger.warning("an event over %d bytes was ignored", limit)
            segment.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _split_lines(segment: TrickleSegment, hub: DataHub, stream_id: str) -> None:
    pending = b""
    skipping = False  # inside a line that was too long: drop up to its end
    async for chunk in segment:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if skipping:
                skipping = False
                continue
            _publish_line(hub, line, stream_id)
        if len(pending) > LINE_MAX:
            logger.warning("stream %s: a data line over %d bytes was dropped", stream_id, LINE_MAX)
            pending = b""
            skipping = True
    if pending and not skipping:
        _publish_line(hub, pending, stream_id)


def _publish_line(hub: DataHub, line: bytes, stream_id: str) -> None:
    text = line.removesuffix(b"\r")
    if len(text) > LINE_MAX:
        logger.warning("stream %s: a data line over %d bytes was dropped", stream_id, LINE_MAX)
        return
    hub.publish(text.decode("utf-8", "replace"))
