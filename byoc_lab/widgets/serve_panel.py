"""``ServePanel``: start and stop the workbench's local network; URLs, health, events.

Start calls :meth:`Workbench.serve` (worker, orchestrator and gateway on 127.0.0.1),
Stop calls :meth:`Workbench.stop_serving`; both run off the kernel's thread and the
panel updates when they finish. What the panel shows comes from
:meth:`Workbench.service_status`, read again every ``refresh_interval`` seconds by a
task the panel owns: the health badge (the worker's ``/health`` state, or STOPPED),
the four URLs, the last error, and a bounded tail of the workbench's events and the
gateway's and orchestrator's routing log.

CSS classes: ``byoc-serve`` (panel), ``byoc-serve-start``, ``byoc-serve-stop``,
``byoc-health`` (the badge; also ``byoc-health-<state>`` in lowercase, e.g.
``byoc-health-ok``), ``byoc-serve-urls``, ``byoc-serve-message``, ``byoc-serve-log``.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from byoc_lab.widgets._background import Outcome, PanelWork, describe_error

if TYPE_CHECKING:
    from byoc_lab.workbench import Workbench
    from byoc_lab.workbench_status import ServiceStatus

__all__ = ["HEALTH_COLOURS", "ServePanel"]

HEALTH_COLOURS = {
    "OK": "#2e7d32",
    "IDLE": "#1565c0",
    "LOADING": "#f9a825",
    "ERROR": "#c62828",
    "STOPPED": "#757575",
}
_URL_NAMES = ("gateway", "orchestrator", "worker", "trickle")
_TAIL = 10


class ServePanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Start/Stop buttons, health badge, URLs and an events/log tail for a workbench.

    Args:
        workbench: the :class:`~byoc_lab.workbench.Workbench` to serve.
        refresh_interval: seconds between status refreshes (None: only on :meth:`refresh`).
        tail: how many recent events, and how many routing log lines, are shown.

    Attributes:
        start_button, stop_button, health, urls, message, log_view: the parts.
        status: the last :class:`~byoc_lab.workbench_status.ServiceStatus` shown.
    """

    def __init__(
        self,
        workbench: Workbench,
        *,
        refresh_interval: float | None = 1.0,
        tail: int = _TAIL,
    ) -> None:
        super().__init__()
        self._work = PanelWork("ServePanel")
        self.add_class("byoc-serve")
        self._workbench = workbench
        self._tail = tail
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time (ticker, job ends)
        self._action: str | None = None  # "start" / "stop" while one runs
        self._note = ""
        self.status: ServiceStatus | None = None
        self.start_button = _button("Start", "play", "byoc-serve-start", self.start)
        self.stop_button = _button("Stop", "stop", "byoc-serve-stop", self.stop)
        self.health = widgets.HTML()
        self.health.add_class("byoc-health")
        self._health_class = ""
        self.urls = widgets.HTML()
        self.urls.add_class("byoc-serve-urls")
        self.message = widgets.HTML()
        self.message.add_class("byoc-serve-message")
        self.log_view = widgets.HTML()
        self.log_view.add_class("byoc-serve-log")
        self.children = (
            widgets.HBox([self.start_button, self.stop_button, self.health]),
            self.urls,
            self.message,
            self.log_view,
        )
        self.refresh()
        if refresh_interval is not None:
            self._work.every(refresh_interval, self.refresh)

    @property
    def workbench(self) -> Workbench:
        """The workbench this panel serves."""
        return self._workbench

    # -- actions (button handlers; return at once) ------------------------------------

    def start(self) -> None:
        """Start serving in the background (no-op while a start or stop runs)."""
        if self._begin("start", "starting worker, orchestrator and gateway…"):
            self._work.run(self._workbench.serve, self._started)

    def stop(self) -> None:
        """Stop serving in the background (no-op while a start or stop runs)."""
        if self._begin("stop", "stopping…"):
            self._work.run(self._workbench.stop_serving, self._stopped)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running start/stop; False if it still runs after ``timeout`` s."""
        return self._work.wait(timeout)

    def refresh(self) -> None:
        """Show the workbench's current service status (any thread)."""
        with self._refreshing:
            self._refresh()

    def _refresh(self) -> None:
        status = self._workbench.service_status()
        with self._lock:
            self.status = status
            busy = self._action is not None
            note = self._note
        self._show_health(status.health)
        self.urls.value = _urls_html(status)
        error = (
            f'<span style="color:#b00020">{html.escape(status.error)}</span>'
            if (status.error)
            else ""
        )
        self.message.value = " · ".join(part for part in (note, error) if part)
        self.log_view.value = _log_html(status, self._tail)
        self.start_button.disabled = busy or status.running
        self.stop_button.disabled = busy or not status.running

    def close(self) -> None:
        """Stop the refresh (waiting for a running start/stop) and close the widgets.

        The network itself belongs to the workbench: close it with the workbench.
        """
        self._work.close()
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
            self._note = html.escape(note)
        self.start_button.disabled = True
        self.stop_button.disabled = True
        self.message.value = self._note
        return True

    def _started(self, outcome: Outcome[Any]) -> None:
        if outcome.error is not None:
            self._end(_error(f"could not start: {describe_error(outcome.error)}"))
        else:
            self._end(f"serving {html.escape(self._workbench.capability)}")

    def _stopped(self, outcome: Outcome[None]) -> None:
        if outcome.error is not None:
            self._end(_error(f"could not stop cleanly: {describe_error(outcome.error)}"))
        else:
            self._end("stopped: press Start to serve again")

    def _end(self, note: str) -> None:
        with self._lock:
            self._action = None
            self._note = note
        self.refresh()

    def _show_health(self, health: str) -> None:
        css = f"byoc-health-{health.lower()}"
        if css != self._health_class:
            if self._health_class:
                self.health.remove_class(self._health_class)
            self.health.add_class(css)
            self._health_class = css
        colour = HEALTH_COLOURS.get(health, "#757575")
        self.health.value = (
            f'<span style="background:{colour};color:white;padding:2px 8px;'
            f'border-radius:8px;font-weight:bold">{html.escape(health)}</span>'
        )


def _button(label: str, icon: str, css: str, on_click: Any) -> widgets.Button:
    button = widgets.Button(description=label, icon=icon, layout=widgets.Layout(width="auto"))
    button.add_class(css)
    button.on_click(lambda _button: on_click())
    return button


def _urls_html(status: ServiceStatus) -> str:
    if not status.running:
        return "<i>not serving: press Start</i>"
    rows = "".join(
        f"<tr><td>{name}</td><td><code>{html.escape(status.urls.get(name, '?'))}</code></td></tr>"
        for name in _URL_NAMES
    )
    return f"<table>{rows}</table>"


def _log_html(status: ServiceStatus, tail: int) -> str:
    events = [str(event) for event in status.events[-tail:]]
    routing = list(status.log[-tail:])
    text = "\n".join(events) or "(no events yet)"
    if routing:
        text += "\n-- routing log --\n" + "\n".join(routing)
    return f"<pre>{html.escape(text)}</pre>"


def _error(text: str) -> str:
    return f'<span style="color:#b00020">{html.escape(text)}</span>'
