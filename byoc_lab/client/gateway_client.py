"""``GatewayClient``: send BYOC jobs and streams through a gateway, as Livepeer clients do.

Every request carries go-livepeer's ``Livepeer`` header (base64 JSON ``JobRequest``
with ``request`` and ``parameters`` as JSON strings, ``capability`` and
``timeout_seconds``; see :mod:`byoc_lab.network.livepeer_header`), so the same calls
work against byoc_lab's gateway and a real go-livepeer gateway.

The client lives on byoc_lab's background event loop (:mod:`byoc_lab.runtime`): its
HTTP session is created there, each sync method submits to that loop and waits with
a timeout (so it works in a notebook cell while the kernel's own loop runs), and each
has an async twin (``await client.asubmit_job(...)``) for top-level ``await``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

import aiohttp

from byoc_lab.client import jobs
from byoc_lab.client.calls import JobResult, check_base_url
from byoc_lab.client.feeds import FRAME_QUEUE
from byoc_lab.client.jobs import RAW, check_capability, check_timeout
from byoc_lab.client.stream import StreamHandle
from byoc_lab.errors import ByocLabError, ParamError, RuntimeStateError
from byoc_lab.frames import RGBImage
from byoc_lab.runtime import get_loop
from byoc_lab.trickle import RetryPolicy, make_session

__all__ = ["GatewayClient"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WAIT_MARGIN_S: Final = 5.0
"""Added by sync methods to the call's own bound, so its typed timeout fires first."""
_CLOSE_TIMEOUT_S: Final = 60.0

_READ_RETRY: Final = RetryPolicy(
    attempts=5, delay=0.3, connect_timeout=10.0, read_timeout=300.0, wait_timeout=None
)
"""Reading a stream's channels: wait for segments as long as the stream lives (stop()
cancels); a paused input (frames sent now and then with send()) may leave a segment
open for minutes."""
_PUBLISH_RETRY: Final = RetryPolicy(attempts=5, delay=0.3, connect_timeout=10.0)
"""Publishing input: a server that takes no data for 30 s fails the publish."""


class GatewayClient:
    """A client of one BYOC gateway (byoc_lab's, or go-livepeer's ``-gateway``).

    Args:
        url: the gateway's base URL, e.g. ``http://127.0.0.1:8935``.
        capability: the capability calls use when they do not name one.
        verify_tls: verify TLS certificates of the gateway and of the orchestrator's
            trickle channels. Pass False for self-signed certificates (go-livepeer's
            orchestrators use one by default).
        timeout_seconds: the header's ``timeout_seconds`` (how long the orchestrator
            waits for the worker); the client waits that plus a margin.

    Use it as a context manager, or call :meth:`close`, which stops the streams it
    started and closes its HTTP session. Sync methods work from any thread except
    byoc_lab's own loop thread; in coroutines use the ``a``-prefixed twins.

    Raises:
        ParamError: a URL that is not http(s), or a timeout that is not a positive int.
    """

    def __init__(
        self,
        url: str,
        *,
        capability: str | None = None,
        verify_tls: bool = True,
        timeout_seconds: int = 30,
    ) -> None:
        self.url = check_base_url(url)
        self.capability = check_capability(capability) if capability is not None else None
        self.verify_tls = verify_tls
        self.timeout_seconds = check_timeout(timeout_seconds)
        self._read_retry = _READ_RETRY
        self._publish_retry = _PUBLISH_RETRY
        self._http: aiohttp.ClientSession | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._streams: list[StreamHandle] = []

    # -- batch jobs ------------------------------------------------------------------------

    def submit_job(
        self,
        capability: str | None = None,
        body: bytes | bytearray | memoryview | str = b"",
        *,
        path: str = "",
        content_type: str = RAW,
        timeout_seconds: int | None = None,
    ) -> JobResult:
        """Run one batch job: ``POST /process/request/{path}`` with ``body``.

        Args:
            capability: the capability (default: the client's).
            body: the raw request body (a str is sent as UTF-8).
            path: the worker path after ``/process/request/`` (go-livepeer forwards it
                to the worker's URL + ``/path``); "" for the worker's root.
            content_type: the body's media type, forwarded to the worker.
            timeout_seconds: the header's ``timeout_seconds`` (default: the client's).

        Returns:
            The answer: status, body, content type, headers (``X-Orchestrator-Url``,
            ``Livepeer-Balance``, ``X-Metadata``), elapsed milliseconds. Note that a
            go-livepeer gateway answers 200 with an empty body when every
            orchestrator failed.

        Raises:
            JobError: a non-2xx answer, carrying ``status`` and the server's message
                (e.g. 400 "No orchestrators found for capability X"), or no connection.
            JobTimeoutError: no answer within ``timeout_seconds`` plus a margin.
            ParamError: no capability, an unusable path or timeout.
        """
        seconds = self._seconds(timeout_seconds)
        coro = self._submit(capability, body, path, content_type, seconds)
        return self._run(coro, self._wait(seconds))

    async def asubmit_job(
        self,
        capability: str | None = None,
        body: bytes | bytearray | memoryview | str = b"",
        *,
        path: str = "",
        content_type: str = RAW,
        timeout_seconds: int | None = None,
    ) -> JobResult:
        """Async twin of :meth:`submit_job`."""
        return await self._arun(self._submit(capability, body, path, content_type, timeout_seconds))

    def send_frame(
        self,
        frame: RGBImage | bytes | bytearray | memoryview,
        capability: str | None = None,
        *,
        path: str = "",
        content_type: str | None = None,
        timeout_seconds: int | None = None,
    ) -> RGBImage | bytes:
        """Process one frame as a batch job; the answer comes back in the same form.

        - An RGB ``uint8`` ``HxWx3`` array goes out as raw RGB bytes (or PNG/JPEG with
          ``content_type="image/png"``/``"image/jpeg"``, which needs OpenCV) and comes
          back as an array. Raw RGB carries no size, so the answer is read as a frame
          of the input's height and width.
        - Bytes go out as they are (``content_type`` default raw) and come back as bytes.

        Raises:
            FrameError: ``frame`` is neither; or the raw answer does not have the
                input's byte count (both sizes named: send PNG to get frames of another
                size back).
            JobError, JobTimeoutError, ParamError: as :meth:`submit_job`.
        """
        seconds = self._seconds(timeout_seconds)
        coro = self._send_frame(frame, capability, path, content_type, seconds)
        return self._run(coro, self._wait(seconds))

    async def asend_frame(
        self,
        frame: RGBImage | bytes | bytearray | memoryview,
        capability: str | None = None,
        *,
        path: str = "",
        content_type: str | None = None,
        timeout_seconds: int | None = None,
    ) -> RGBImage | bytes:
        """Async twin of :meth:`send_frame`."""
        return await self._arun(
            self._send_frame(frame, capability, path, content_type, timeout_seconds)
        )

    # -- streams ---------------------------------------------------------------------------

    def start_stream(
        self,
        capability: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        stream_id: str | None = None,
        stream_name: str = "",
        enable_data: bool = True,
        max_queued_frames: int = FRAME_QUEUE,
    ) -> StreamHandle:
        """Start a live stream: ``POST /process/stream/start``, as byoc-sdk does.

        The header's ``parameters`` enable video ingress and egress (and the data
        channel with ``enable_data``); the body is go-livepeer's ``StartRequest`` with
        ``params`` as a JSON string. The gateway names the stream ``stream_id`` (random
        when None), prefixed ``{stream_name}-`` when a name is given.

        Args:
            capability: the capability (default: the client's).
            params: the worker's stream parameters (processor params, ``width``/
                ``height``, ``max_framerate``).
            stream_id: the stream id to ask for.
            stream_name: the stream name.
            enable_data: ask for the data channel (:meth:`StreamHandle.data`).
            max_queued_frames: output frames held for :meth:`StreamHandle.frames`
                (when the reader falls behind, the oldest are dropped and counted).

        Returns:
            The stream's handle; its output reader and data reader already run.

        Raises:
            JobError: the gateway refused (the worker's 4xx, no orchestrator, …).
            JobTimeoutError: no answer in time.
            ParamError: bad arguments.
        """
        coro = self._start_stream(
            capability, params, stream_id, stream_name, enable_data, max_queued_frames
        )
        return self._run(coro, self._wait(self.timeout_seconds))

    async def astart_stream(
        self,
        capability: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        stream_id: str | None = None,
        stream_name: str = "",
        enable_data: bool = True,
        max_queued_frames: int = FRAME_QUEUE,
    ) -> StreamHandle:
        """Async twin of :meth:`start_stream`."""
        return await self._arun(
            self._start_stream(
                capability, params, stream_id, stream_name, enable_data, max_queued_frames
            )
        )

    def attach_stream(
        self,
        urls: Mapping[str, str],
        capability: str | None = None,
        *,
        max_queued_frames: int = FRAME_QUEUE,
    ) -> StreamHandle:
        """A handle for a stream started elsewhere, from its start answer (``StreamUrls``).

        Nothing is sent; readers start on first use. Without the ``trickle_*`` URLs
        (a go-livepeer gateway's answer) the handle cannot publish or read frames.

        Raises:
            ParamError: no usable ``stream_id`` in ``urls``, or no capability.
        """
        handle = StreamHandle(
            self, urls, capability=self._capability(capability), max_queued_frames=max_queued_frames
        )
        self._register(handle)
        return handle

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every stream this client started or attached, then close the session.

        Idempotent. A stream that fails to stop is logged, not raised.
        """
        self._run(self._close(), _CLOSE_TIMEOUT_S)

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await self._arun(self._close())

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        extra = f" capability={self.capability!r}" if self.capability else ""
        extra += " verify_tls=False" if not self.verify_tls else ""
        extra += " closed" if self._closed else ""
        return f"<GatewayClient {self.url}{extra}>"

    # -- plumbing shared with StreamHandle ---------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on byoc_lab's loop and wait (RuntimeStateError on that loop)."""
        return get_loop().run(coro, timeout)

    async def _arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on byoc_lab's loop, from that loop or any other."""
        loop = get_loop()
        if loop.in_loop_thread():
            return await coro
        return await asyncio.wrap_future(loop.submit(coro))

    async def _session(self) -> aiohttp.ClientSession:
        """The HTTP session, created on first use (on byoc_lab's loop)."""
        if self._closed:
            raise RuntimeStateError(
                f"the GatewayClient for {self.url} is closed", fix="create a new GatewayClient"
            )
        if self._http is None:
            self._http = make_session(verify_tls=self.verify_tls)
        return self._http

    def _register(self, handle: StreamHandle) -> None:
        with self._lock:
            self._streams.append(handle)

    def _forget(self, handle: StreamHandle) -> None:
        with self._lock:
            if handle in self._streams:
                self._streams.remove(handle)

    def _seconds(self, timeout_seconds: int | None) -> int:
        if timeout_seconds is None:
            return self.timeout_seconds
        return check_timeout(timeout_seconds)

    def _capability(self, capability: object) -> str:
        if capability is None:
            capability = self.capability
        if capability is None:
            raise ParamError(
                "no capability given",
                fix="pass capability='green-tint-cpu' to the call, or to GatewayClient(...)",
            )
        return check_capability(capability)

    def _wait(self, timeout_seconds: int) -> float:
        """How long a sync method waits for a call bounded by ``timeout_seconds``."""
        return timeout_seconds + jobs.GATEWAY_MARGIN_S + _WAIT_MARGIN_S

    # -- on the loop ---------------------------------------------------------------------------

    async def _submit(
        self,
        capability: str | None,
        body: bytes | bytearray | memoryview | str,
        path: str,
        content_type: str,
        timeout_seconds: int | None,
    ) -> JobResult:
        name = self._capability(capability)
        seconds = self._seconds(timeout_seconds)
        http = await self._session()
        return await jobs.submit_job(
            http,
            self.url,
            name,
            body,
            path=path,
            content_type=content_type,
            timeout_seconds=seconds,
        )

    async def _send_frame(
        self,
        frame: object,
        capability: str | None,
        path: str,
        content_type: str | None,
        timeout_seconds: int | None,
    ) -> RGBImage | bytes:
        name = self._capability(capability)
        seconds = self._seconds(timeout_seconds)
        http = await self._session()
        return await jobs.send_frame(
            http,
            self.url,
            name,
            frame,
            path=path,
            content_type=content_type,
            timeout_seconds=seconds,
        )

    async def _start_stream(
        self,
        capability: str | None,
        params: Mapping[str, Any] | None,
        stream_id: str | None,
        stream_name: str,
        enable_data: bool,
        max_queued_frames: int,
    ) -> StreamHandle:
        name = self._capability(capability)
        urls = await jobs.start_stream(
            await self._session(),
            self.url,
            name,
            params,
            stream_id=stream_id,
            stream_name=stream_name,
            enable_data=enable_data,
            timeout_seconds=self.timeout_seconds,
        )
        handle = StreamHandle(self, urls, capability=name, max_queued_frames=max_queued_frames)
        self._register(handle)
        await handle._ensure_started()
        return handle

    async def _close(self) -> None:
        if self._closed:
            return
        with self._lock:
            streams = list(self._streams)
        for handle in streams:
            try:
                await handle.astop()
            except ByocLabError as exc:
                logger.warning("stream %s did not stop cleanly: %s", handle.stream_id, exc)
        self._closed = True
        http, self._http = self._http, None
        if http is not None:
            await http.close()
