"""``FrameView``: input and output frames side by side, drawn by the browser.

The widget is wiring between a frame feed (a :class:`~byoc_lab.preview.PreviewEngine`,
or anything with ``on_frame(callback) -> unsubscribe`` and ``latest()``, such as a
workbench's stream run) and a :class:`~byoc_lab.preview.FrameDelivery`, which decides
what to send: at most ``max_in_flight`` frames in flight (two), the latest frame wins.

Protocol (custom comm messages, see ``static/frame_view.js``):

- browser -> kernel ``{"type": "ready"}`` when a view renders. Nothing is sent before
  the first one; each one starts a fresh delivery (the new view gets the latest frame
  at once, whatever the old view had in flight).
- kernel -> browser ``{"type": "frame", "seq", "index", "has_input", "has_output",
  "error", "process_ms"}`` with buffers ``[input JPEG if has_input, output JPEG if
  has_output]``. With ``panes="output"`` the input is not sent.
- browser -> kernel ``{"type": "ack", "seq"}`` once it has drawn the frame.

Threads: the feed calls back on byoc_lab's background loop thread, so frames are
encoded and sent from there (``Widget.send`` goes through ipykernel's IOPub thread,
which is safe from any thread); acks arrive on the kernel's main thread. The widget
writes no trait from the background thread.

CSS (stable, for browser tests): ``.byoc-frame-view`` root with ``data-seq`` (last drawn
seq), ``data-index``, ``data-drawn`` (frames drawn by the view) and ``data-error``
(while the output errs); canvases ``.byoc-frame-input canvas`` and
``.byoc-frame-output canvas``; ``.byoc-frame-error`` overlays the output with the error,
the last good output stays visible beneath it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import anywidget
import traitlets

from byoc_lab.preview import DeliveryStats, FrameDelivery, PreviewFrame
from byoc_lab.widgets._assets import static
from byoc_lab.widgets._still import still_wait, with_still

__all__ = ["FrameFeed", "FrameView"]


class FrameFeed(Protocol):
    """What a FrameView shows: a PreviewEngine, a workbench's StreamRun, ..."""

    def on_frame(self, callback: Callable[[PreviewFrame], None]) -> Callable[[], None]:
        """Call ``callback`` for every new frame; return a function that unsubscribes."""
        ...

    def latest(self) -> PreviewFrame | None:
        """The newest frame, if any."""
        ...


class FrameView(anywidget.AnyWidget):
    """Shows a feed's frames (input | output) in the browser, latest frame wins.

    Args:
        feed: where frames come from (None: call :meth:`connect` later).
        panes: ``"both"`` (input and output side by side) or ``"output"``.
        ack_timeout: seconds after which an unacknowledged frame no longer holds back
            the next one (a view that went away, a lost message).
        max_in_flight: frames sent and not yet drawn, at most. Two overlap one
            frame's round trip (kernel -> server -> browser -> kernel, ~60 ms on a
            2-core machine) with the next, doubling the displayed rate; one gives the
            least latency.
        input_label: caption of the input pane.
        output_label: caption of the output pane.

    Owns its subscription to the feed and its delivery; :meth:`close` releases both
    (the feed itself belongs to the caller).
    """

    _esm = static("frame_view.js")
    _css = static("byoc.css")

    panes = traitlets.Enum(("both", "output"), default_value="both").tag(sync=True)
    input_label = traitlets.Unicode("input").tag(sync=True)
    output_label = traitlets.Unicode("output").tag(sync=True)

    def __init__(
        self,
        feed: FrameFeed | None = None,
        *,
        panes: str = "both",
        ack_timeout: float = 2.0,
        max_in_flight: int = 2,
        input_label: str = "input",
        output_label: str = "output",
    ) -> None:
        super().__init__(panes=panes, input_label=input_label, output_label=output_label)
        self._lock = threading.Lock()
        self._ack_timeout = ack_timeout
        self._max_in_flight = max_in_flight
        self._feed: FrameFeed | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._delivery: FrameDelivery | None = None
        self.views_ready = 0
        self.on_msg(self._on_browser_message)
        if feed is not None:
            self.connect(feed)

    @property
    def feed(self) -> FrameFeed | None:
        """The feed shown now."""
        return self._feed

    def connect(self, feed: FrameFeed | None) -> None:
        """Show ``feed`` from now on (None: show nothing new); its latest frame goes at once."""
        with self._lock:
            old, self._unsubscribe = self._unsubscribe, None
            self._feed = feed
        if old is not None:
            old()
        if feed is None:
            return
        unsubscribe = feed.on_frame(self._offer)
        with self._lock:
            self._unsubscribe = unsubscribe
        latest = feed.latest()
        if latest is not None:
            self._offer(latest)

    def delivery_stats(self) -> DeliveryStats | None:
        """The current view's delivery counts (None until a view is ready)."""
        with self._lock:
            delivery = self._delivery
        return delivery.stats() if delivery is not None else None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus a still of the feed's latest frame for kernel-less readers.

        The still shows the panes the view shows: input beside output, or the output.
        """
        feed = self._feed
        bundle = super()._repr_mimebundle_(**kwargs)
        if feed is None:
            return bundle
        return with_still(
            bundle, feed.latest, wait=still_wait(feed), output_only=self.panes == "output"
        )

    def close(self) -> None:
        """Stop sending, unsubscribe from the feed and close the comm; idempotent."""
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            delivery, self._delivery = self._delivery, None
            self._feed = None
        if unsubscribe is not None:
            unsubscribe()
        if delivery is not None:
            delivery.close()
        super().close()

    # -- wiring ---------------------------------------------------------------------

    def _offer(self, frame: PreviewFrame) -> None:
        """Feed callback (background loop thread): hand the frame to the delivery."""
        with self._lock:
            delivery = self._delivery
        if delivery is not None:
            delivery.offer(frame)

    def _on_browser_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Comm callback (kernel main thread): a view is ready, or drew a frame."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "ready":
            self._new_view()
        elif kind == "ack" and isinstance(content.get("seq"), int):
            with self._lock:
                delivery = self._delivery
            if delivery is not None:
                delivery.ack(content["seq"])

    def _new_view(self) -> None:
        delivery = FrameDelivery(
            self._send_frame, ack_timeout=self._ack_timeout, max_in_flight=self._max_in_flight
        )
        with self._lock:
            old, self._delivery = self._delivery, delivery
            feed = self._feed
            self.views_ready += 1
        if old is not None:
            old.close()
        latest = feed.latest() if feed is not None else None
        if latest is not None:
            delivery.offer(latest)

    def _send_frame(self, frame: PreviewFrame) -> None:
        """FrameDelivery's ``send``: encode (cached by the frame) and send over the comm."""
        buffers: list[bytes] = []
        if self.panes == "both":
            buffers.append(frame.input_jpeg())
        output = frame.output_jpeg()
        if output is not None:
            buffers.append(output)
        content = {
            "type": "frame",
            "seq": frame.seq,
            "index": frame.index,
            "has_input": self.panes == "both",
            "has_output": output is not None,
            "error": frame.error,
            "process_ms": frame.process_ms,
        }
        self.send(content, buffers)
