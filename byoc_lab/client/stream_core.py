"""The running parts of one stream on byoc_lab's loop, behind :class:`StreamHandle`.

:class:`StreamCore` owns everything a stream handle starts: the output reader
(:func:`~byoc_lab.client.media.read_frames`), the data reader (the gateway's SSE), the
events reader, the publish task and the input encoder/publisher, and their bounded
feeds. Its methods run on byoc_lab's background loop only; the handle's sync methods
and async twins bring calls there. :meth:`StreamCore.stop` cancels and awaits every
task it created.

Reader and publish tasks are task tops: a failure is logged and handed on (a reader's
to its feed's consumers, a publish's to :meth:`StreamCore.wait_published`), never
lost and never raised into the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiohttp import hdrs

from byoc_lab.client.calls import JobResult, call_gateway
from byoc_lab.client.feeds import (
    DATA_QUEUE,
    EVENTS_QUEUE,
    Feed,
    StreamCounts,
    read_events,
    read_sse_data,
)
from byoc_lab.errors import (
    ByocLabError,
    JobError,
    JobTimeoutError,
    ParamError,
    RuntimeStateError,
)
from byoc_lab.frames import RGBImage
from byoc_lab.network.livepeer_header import LIVEPEER_HEADER, build_job_header
from byoc_lab.sources import FrameSource

if TYPE_CHECKING:
    from byoc_lab.client.gateway_client import GatewayClient
    from byoc_lab.client.media import StreamInput

__all__ = ["DEFAULT_FPS", "STOP_TIMEOUT_S", "StreamCore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_FPS: Final = 30.0
"""Frame rate of timestamps and pacing when neither the caller nor the source says."""
STOP_TIMEOUT_S: Final = 15.0
_CALL_MARGIN_S: Final = 10.0


class StreamCore:
    """A stream's tasks, feeds and gateway calls; use it on byoc_lab's loop only.

    Args:
        client: the client whose session, loop plumbing and timeouts it uses.
        urls: the gateway's start answer (string fields).
        stream_id: the validated stream id.
        capability: the stream's capability.
        max_frames: output frames held for consumers.
    """

    def __init__(
        self,
        client: GatewayClient,
        urls: Mapping[str, str],
        *,
        stream_id: str,
        capability: str,
        max_frames: int,
    ) -> None:
        self.client = client
        self.urls = dict(urls)
        self.stream_id = stream_id
        self.capability = capability
        self.counts = StreamCounts()
        self.stopped = False
        self._max_frames = max_frames
        self._tasks: set[asyncio.Task[Any]] = set()
        self._frames: Feed[RGBImage] | None = None
        self._data: Feed[str] | None = None
        self._events: Feed[dict[str, Any]] | None = None
        self._input: StreamInput | None = None
        self._publish: asyncio.Task[None] | None = None
        self._publish_error: BaseException | None = None
        self._fps = DEFAULT_FPS
        self._started = False
        self._stopping = False

    def gateway_url(self, verb: str) -> str:
        """``{client url}/process/stream/{id}/{verb}``: calls go to the client's gateway."""
        return f"{self.client.url}/process/stream/{self.stream_id}/{verb}"

    def call_timeout(self) -> float:
        """Bound of one update/status call."""
        return self.client.timeout_seconds + _CALL_MARGIN_S

    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (readable from any thread)."""
        frames, data, events = self._frames, self._data, self._events
        publishing = self._publish is not None and not self._publish.done()
        return {
            "stream_id": self.stream_id,
            "frames_sent": self.counts.frames_sent,
            "segments_sent": self.counts.segments_sent,
            "frames_received": frames.received if frames else 0,
            "frames_dropped": frames.dropped if frames else 0,
            "frame_queue": self._max_frames,
            "decode_errors": self.counts.decode_errors,
            "output_errors": self.counts.output_errors,
            "output_lost": self.counts.output_lost,
            "input_errors": self.counts.input_errors,
            "data_lines": data.received if data else 0,
            "data_dropped": data.dropped if data else 0,
            "events": events.received if events else 0,
            "events_dropped": events.dropped if events else 0,
            "publishing": publishing,
            "publish_error": repr(self._publish_error) if self._publish_error else None,
            "stopped": self.stopped,
        }

    async def ensure_started(self) -> None:
        """Start the output and data readers once (they run until the stream ends)."""
        if self._started or self.stopped:
            return
        http = await self.client._session()
        self._started = True
        retry = self.client._read_retry
        output = self.urls.get("trickle_subscribe_url", "")
        if output:
            from byoc_lab.client.media import read_frames  # loads PyAV

            frames = Feed[RGBImage](self._max_frames, what="output frame", stream_id=self.stream_id)
            self._frames = frames
            self._spawn(
                "output",
                lambda: read_frames(http, output, frames, self.counts, retry=retry),
                frames,
            )
        if self.urls.get("data_url", None) != "":
            data = Feed[str](DATA_QUEUE, what="data line", stream_id=self.stream_id)
            self._data = data
            url = self.gateway_url("data")
            timeout = self.call_timeout()
            self._spawn(
                "data", lambda: read_sse_data(http, url, data, connect_timeout=timeout), data
            )

    def _spawn(
        self, what: str, run: Callable[[], Coroutine[Any, Any, None]], feed: Feed[Any]
    ) -> None:
        task = asyncio.create_task(
            self._reader_top(what, run, feed), name=f"byoc-client {self.stream_id} {what}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reader_top(
        self, what: str, run: Callable[[], Coroutine[Any, Any, None]], feed: Feed[Any]
    ) -> None:
        """Task top of a reader: its end or failure closes its feed, never silently."""
        try:
            await run()
        except ByocLabError as exc:
            if self._stopping:
                feed.close()
                return
            logger.info("stream %s: %s reader ended: %s", self.stream_id, what, exc)
            feed.close(exc)
        except Exception as exc:  # task top: log it and hand it to the feed's consumers
            logger.exception("stream %s: %s reader failed", self.stream_id, what)
            feed.close(RuntimeStateError(f"the stream's {what} reader failed: {exc!r}"))
        else:
            feed.close()

    async def next_item(self, feed: Feed[T], wait_s: float | None, after_input: bool) -> T | None:
        """The next item of ``feed`` (None at its end), as :meth:`Feed.get`.

        With ``after_input``, a timeout once this handle has ended the input is the end
        (None), not an error: no more input can make more output.
        """
        try:
            return await feed.get(wait_s)
        except JobTimeoutError:
            if after_input and self._input is not None and self._input.ended:
                logger.debug("stream %s: output quiet after the input ended", self.stream_id)
                return None
            raise

    async def frames_feed(self) -> Feed[RGBImage]:
        """The output frames' feed (closed at once if there is no output)."""
        await self.ensure_started()
        if self._frames is None:  # stopped before anything started
            self._frames = Feed[RGBImage](1, what="output frame", stream_id=self.stream_id)
            self._frames.close()
        return self._frames

    async def data_feed(self) -> Feed[str]:
        """The data lines' feed (closed at once if there is no data reader)."""
        await self.ensure_started()
        if self._data is None:
            self._data = Feed[str](1, what="data line", stream_id=self.stream_id)
            self._data.close()
        return self._data

    async def events_feed(self) -> Feed[dict[str, Any]]:
        """The events' feed; its reader starts on the first call."""
        if self._events is None:
            events = Feed[dict[str, Any]](EVENTS_QUEUE, what="event", stream_id=self.stream_id)
            self._events = events
            if self.stopped:
                events.close()
            else:
                http = await self.client._session()
                url = self.urls["trickle_events_url"]
                retry = self.client._read_retry
                self._spawn("events", lambda: read_events(http, url, events, retry=retry), events)
        return self._events

    async def _stream_input(self) -> StreamInput:
        self._check_open()
        await self.ensure_started()
        if self._input is None:
            from byoc_lab.client.media import StreamInput

            self._input = StreamInput(
                await self.client._session(),
                self.urls["trickle_publish_url"],
                retry=self.client._publish_retry,
                counts=self.counts,
            )
        return self._input

    async def start_publish(
        self, source: FrameSource | Iterable[Any], fps: float | None, realtime: bool, end: bool
    ) -> None:
        """Start the publish task (see :meth:`StreamHandle.publish`); returns at once."""
        rate = fps if fps is not None else getattr(source, "fps", None) or DEFAULT_FPS
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ParamError("fps must be a positive number", got=repr(rate))
        self._check_not_publishing()
        stream_input = await self._stream_input()
        if stream_input.ended:
            raise RuntimeStateError(
                f"the input of stream {self.stream_id} has ended",
                fix="start a new stream to publish more frames",
            )
        self._fps = float(rate)
        self._publish_error = None
        task = asyncio.create_task(
            self._publish_top(stream_input, source, float(rate), realtime, end),
            name=f"byoc-client {self.stream_id} publish",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._publish = task

    async def _publish_top(
        self,
        stream_input: StreamInput,
        source: FrameSource | Iterable[Any],
        fps: float,
        realtime: bool,
        end: bool,
    ) -> None:
        """Task top of a publish: an error is logged and kept for :meth:`wait_published`."""
        try:
            await stream_input.publish(source, fps=fps, realtime=realtime)
            if end:
                await stream_input.end()
        except Exception as exc:  # task top: the source's or the channel's error; reported
            self._publish_error = exc
            if self._stopping:
                logger.debug("stream %s: publishing ended by stop(): %r", self.stream_id, exc)
            elif isinstance(exc, ByocLabError):
                logger.warning("stream %s: publishing stopped: %s", self.stream_id, exc)
            else:
                logger.exception("stream %s: publishing failed", self.stream_id)

    async def wait_published(self, wait_s: float | None) -> int:
        """Wait for the publish task; the frames sent, or the error that ended it."""
        task = self._publish
        if task is None:
            raise RuntimeStateError(
                f"nothing was published to stream {self.stream_id}", fix="call publish(source)"
            )
        await asyncio.wait({task}, timeout=wait_s)
        if not task.done():
            raise JobTimeoutError(
                f"stream {self.stream_id} is still publishing after {wait_s:g} s",
                fix="wait longer, or stop() the stream",
            )
        if self._publish_error is not None:
            raise self._publish_error
        return self.counts.frames_sent

    async def send(self, frame: Any) -> None:
        """Encode and send one frame now (raises as :meth:`StreamInput.send`)."""
        self._check_not_publishing()
        stream_input = await self._stream_input()
        await stream_input.send(frame, self._fps)

    async def end_input(self) -> None:
        """End the input: flush, complete the last segment, delete the input channel."""
        self._check_not_publishing()
        stream_input = await self._stream_input()
        await stream_input.end()

    async def update(self, params: Mapping[str, Any]) -> JobResult:
        """``POST /process/stream/{id}/update`` with the capability and stream id header."""
        self._check_open()
        try:
            body = json.dumps(dict(params)).encode()
        except (TypeError, ValueError) as exc:
            raise ParamError(f"stream params must be JSON-serialisable ({exc})") from exc
        header = build_job_header(
            self.capability, timeout_seconds=self.client.timeout_seconds, stream_id=self.stream_id
        )
        return await call_gateway(
            await self.client._session(),
            "POST",
            self.gateway_url("update"),
            what=f"updating stream {self.stream_id}",
            seconds=self.call_timeout(),
            data=body,
            headers={LIVEPEER_HEADER: header, hdrs.CONTENT_TYPE: "application/json"},
        )

    async def status(self) -> dict[str, Any]:
        """``GET /process/stream/{id}/status`` as a dict."""
        result = await call_gateway(
            await self.client._session(),
            "GET",
            self.gateway_url("status"),
            what=f"the status of stream {self.stream_id}",
            seconds=self.call_timeout(),
        )
        try:
            status = result.json()
        except ValueError:
            status = None
        if not isinstance(status, dict):
            raise JobError(
                f"the status of stream {self.stream_id} is not a JSON object",
                status=result.status,
                url=result.url,
                text=result.text(),
            )
        return status

    async def stop(self) -> None:
        """POST ``/stop``, then cancel and await every task; idempotent (see the facade)."""
        if self.stopped:
            return
        self.stopped = self._stopping = True
        error: JobError | None = None
        try:
            await call_gateway(
                await self.client._session(),
                "POST",
                self.gateway_url("stop"),
                what=f"stopping stream {self.stream_id}",
                seconds=STOP_TIMEOUT_S,
            )
        except JobError as exc:
            if exc.status != 404:  # 404: the stream had already ended by itself
                error = exc
        finally:
            await self._shutdown()
        if error is not None:
            raise error

    async def _shutdown(self) -> None:
        """Cancel and await every task of the handle; drop the input; end the feeds."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._input is not None:
            await self._input.abort()
        for feed in (self._frames, self._data, self._events):
            if feed is not None:
                feed.close()

    def _check_open(self) -> None:
        if self.stopped:
            raise RuntimeStateError(f"stream {self.stream_id} is stopped", fix="start a new stream")

    def _check_not_publishing(self) -> None:
        self._check_open()
        if self._publish is not None and not self._publish.done():
            raise RuntimeStateError(
                f"stream {self.stream_id} is publishing a source",
                fix="wait_published() first, or stop() the stream",
            )
