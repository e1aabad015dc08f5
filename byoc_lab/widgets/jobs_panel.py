"""``JobsPanel``: send a frame job through the gateway; run a live stream and watch it.

"Send frame job" calls :meth:`Workbench.send_frame_job` (the preview's latest input
frame, through gateway, orchestrator and worker) off the kernel's thread, then shows
the frame that came back, the HTTP status, the elapsed milliseconds and a one-line
summary (mean RGB of input and output). "Start stream" calls
:meth:`Workbench.start_stream` (the preview's input frames as a live stream) and shows
the stream's output live in a :class:`~byoc_lab.widgets.frame_view.FrameView`; a
refresh the panel owns keeps the stream's stats line current and lets go of the view
when the stream is gone (stopped here, or by stopping the service).

A job or stream asked for when the service is not running says so ("start the
service first (Serve tab)", "the service is stopped: press Start (Serve tab)").

CSS classes: ``byoc-jobs`` (panel), ``byoc-jobs-send``, ``byoc-jobs-result`` (the
result ``<img>``), ``byoc-jobs-status``, ``byoc-jobs-timing``, ``byoc-jobs-summary``,
``byoc-jobs-message``, ``byoc-jobs-stream-start``, ``byoc-jobs-stream-stop``,
``byoc-jobs-stream-stats``, ``byoc-jobs-stream-view`` (the FrameView).
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from byoc_lab.errors import RuntimeStateError
from byoc_lab.frames import RGBImage, encode_image
from byoc_lab.widgets._background import Outcome, PanelWork, describe_error
from byoc_lab.widgets.frame_view import FrameView

if TYPE_CHECKING:
    from byoc_lab.workbench import Workbench
    from byoc_lab.workbench_jobs import JobOutcome, StreamRun

__all__ = ["JobsPanel", "mean_rgb"]

NOT_STARTED = "start the service first (Serve tab)"
STOPPED = "the service is stopped: press Start (Serve tab)"


def mean_rgb(image: RGBImage) -> str:
    """``"R, G, B"``: the image's mean of each channel, rounded."""
    means = image.reshape(-1, 3).mean(axis=0)
    return ", ".join(f"{value:.0f}" for value in means)


class JobsPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Frame jobs and a live stream through a workbench's gateway.

    Args:
        workbench: the :class:`~byoc_lab.workbench.Workbench` whose service to use.
        refresh_interval: seconds between stream-stats refreshes (None: only on
            :meth:`refresh`).

    Attributes:
        outcome: the last :class:`~byoc_lab.workbench_jobs.JobOutcome`, or None.
        stream_view: the FrameView showing the stream's output.
    """

    def __init__(self, workbench: Workbench, *, refresh_interval: float | None = 0.5) -> None:
        super().__init__()
        self._work = PanelWork("JobsPanel")
        self.add_class("byoc-jobs")
        self._workbench = workbench
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time (ticker, action ends)
        self._action: str | None = None
        self.outcome: JobOutcome | None = None
        self.send_button = _button("Send frame job", "paper-plane", "byoc-jobs-send", self.send_job)
        self.result = widgets.Image(  # hidden until a job returns a frame
            format="jpeg", layout=widgets.Layout(max_width="320px", display="none")
        )
        self.result.add_class("byoc-jobs-result")
        self.status = _html("byoc-jobs-status")
        self.timing = _html("byoc-jobs-timing")
        self.summary = _html("byoc-jobs-summary")
        self.message = _html("byoc-jobs-message")
        self.stream_start = _button(
            "Start stream", "play", "byoc-jobs-stream-start", self.start_stream
        )
        self.stream_stop = _button("Stop stream", "stop", "byoc-jobs-stream-stop", self.stop_stream)
        self.stream_stats = _html("byoc-jobs-stream-stats")
        self.stream_view = FrameView(None, panes="output", output_label="stream output")
        self.stream_view.add_class("byoc-jobs-stream-view")
        self.children = (
            widgets.HBox([self.send_button, self.status, self.timing]),
            self.summary,
            self.result,
            widgets.HBox([self.stream_start, self.stream_stop]),
            self.stream_stats,
            self.stream_view,
            self.message,
        )
        self.refresh()
        if refresh_interval is not None:
            self._work.every(refresh_interval, self.refresh)

    @property
    def workbench(self) -> Workbench:
        """The workbench whose service this panel uses."""
        return self._workbench

    # -- actions (button handlers; return at once) ------------------------------------

    def send_job(self) -> None:
        """Send one frame job in the background; the result shows when it returns."""
        if self._begin("send", "sending a frame job…"):
            self._work.run(self._workbench.send_frame_job, self._job_done)

    def start_stream(self) -> None:
        """Start a live stream of the preview's input in the background."""
        if self._begin("stream", "starting a stream…"):
            self._work.run(self._workbench.start_stream, self._stream_started)

    def stop_stream(self) -> None:
        """Stop the live stream in the background."""
        if self._begin("stream", "stopping the stream…"):
            self._work.run(self._workbench.stop_stream, self._stream_stopped)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running job/stream action; False if it still runs after ``timeout`` s."""
        return self._work.wait(timeout)

    def refresh(self) -> None:
        """Update the stream stats line, and let go of a stream that is gone (any thread)."""
        with self._refreshing:
            self._refresh()

    def _refresh(self) -> None:
        run = self._workbench.stream
        shown = None if run is not None else "none"  # no empty output box without a stream
        if self.stream_view.layout.display != shown:
            self.stream_view.layout.display = shown
        if run is None:
            if self.stream_view.feed is not None:
                self.stream_view.connect(None)
            self.stream_stats.value = "no stream running"
        else:
            if self.stream_view.feed is not run:
                self.stream_view.connect(run)
            self.stream_stats.value = html.escape(_stream_line(run))
        with self._lock:
            busy = self._action is not None
        self.send_button.disabled = busy
        self.stream_start.disabled = busy or run is not None
        self.stream_stop.disabled = busy or run is None

    def close(self) -> None:
        """Stop the refresh (waiting for a running action) and close the widgets.

        A running stream belongs to the workbench (its ``stop_stream``/``close``).
        """
        self._work.close()
        self.stream_view.close()
        for child in self.children:
            for grandchild in getattr(child, "children", ()):
                grandchild.close()
            child.close()
        super().close()

    # -- completion (worker thread) ---------------------------------------------------

    def _begin(self, action: str, note: str) -> bool:
        with self._lock:
            if self._action is not None:
                return False
            self._action = action
        self.send_button.disabled = True
        self.stream_start.disabled = True
        self.stream_stop.disabled = True
        self.message.value = html.escape(note)
        return True

    def _end(self, message: str) -> None:
        self.message.value = message
        with self._lock:
            self._action = None
        self.refresh()

    def _job_done(self, outcome: Outcome[JobOutcome]) -> None:
        job = outcome.value
        if outcome.error is not None or job is None:
            self._end(_error(self._explain(outcome.error)))
            return
        self.outcome = job
        self.status.value = html.escape(f"HTTP {job.status}" if job.status else "no answer")
        self.timing.value = f"{job.elapsed_ms:.1f} ms"
        if job.output is None:
            self.summary.value = ""
            self._end(_error(f"the job failed: {job.error}"))
            return
        self.result.value = encode_image(job.output, "jpeg", 90)
        self.result.layout.display = None
        self.summary.value = html.escape(
            f"{job.output.shape[1]}x{job.output.shape[0]} · mean RGB of the output "
            f"{mean_rgb(job.output)} (input {mean_rgb(job.input)}) · {job.capability}"
        )
        self._end("")

    def _stream_started(self, outcome: Outcome[StreamRun]) -> None:
        if outcome.error is not None or outcome.value is None:
            self._end(_error(self._explain(outcome.error)))
            return
        self.stream_view.connect(outcome.value)
        self._end(
            html.escape(
                f"stream {outcome.value.stream_id} started: the preview's frames feed it "
                "while the preview plays"
            )
        )

    def _stream_stopped(self, outcome: Outcome[None]) -> None:
        self.stream_view.connect(None)
        if outcome.error is not None:
            self._end(_error(describe_error(outcome.error)))
        else:
            self._end("stream stopped")

    def _explain(self, error: BaseException | None) -> str:
        """The message for a failed action; 'not serving' in the words of this panel."""
        if error is None:
            return "no result"
        if isinstance(error, RuntimeStateError) and not self._workbench.closed:
            status = self._workbench.service_status()
            if not status.running:
                stopped = any(event.kind == "stopped" for event in status.events)
                return STOPPED if stopped else NOT_STARTED
        return describe_error(error)


def _stream_line(run: StreamRun) -> str:
    stats: dict[str, Any] = run.stats()
    parts = [
        f"stream {stats['stream_id']}: {stats['state']}",
        f"sent {stats['sent']}",
        f"received {stats['received']}",
        f"{stats['fps']:.1f} fps",
        f"dropped {stats['dropped']}",
    ]
    if stats.get("latency_ms") is not None:
        parts.append(f"latency {stats['latency_ms']:.0f} ms")
    if stats.get("error"):
        parts.append(str(stats["error"]))
    return " · ".join(parts)


def _button(label: str, icon: str, css: str, on_click: Any) -> widgets.Button:
    button = widgets.Button(description=label, icon=icon, layout=widgets.Layout(width="auto"))
    button.add_class(css)
    button.on_click(lambda _button: on_click())
    return button


def _html(css: str) -> widgets.HTML:
    widget = widgets.HTML()
    widget.add_class(css)
    return widget


def _error(text: str) -> str:
    return f'<span style="color:#b00020">{html.escape(text)}</span>'
