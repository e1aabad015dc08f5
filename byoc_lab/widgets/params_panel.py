"""``ParamsPanel``: one control per declared parameter of the workbench's processor.

A change goes to :meth:`Workbench.update_params`, the same path as ``POST
/stream/params``: the preview and the running worker's live streams take it. A value
the processor refuses (:class:`~byoc_lab.errors.ParamError`) is shown in the panel's
message line and the control goes back to the value in force. When the workbench's
processor is swapped (the editor's Apply, the ``%%processor`` magic), the panel's
periodic refresh notices the new processor and rebuilds the controls from its schema;
a value changed from a cell (``workbench.update_params``) moves its control.

CSS classes (for styling and browser tests): ``byoc-params`` on the panel,
``byoc-param-<name>`` on each control, ``byoc-params-message`` on the message line,
``byoc-params-empty`` on the note shown for a processor without parameters.
"""

from __future__ import annotations

import html
import math
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from byoc_lab.errors import ByocLabError
from byoc_lab.params import ParamSpec
from byoc_lab.widgets._background import PanelWork, describe_error

if TYPE_CHECKING:
    from byoc_lab.workbench import Workbench

__all__ = ["ParamsPanel", "control_for"]

NO_PARAMS = "this processor declares no parameters (add Param()s to tune it here)"
_UNSET = object()


class ParamsPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Controls generated from ``workbench.param_specs()``; changes go to the workbench.

    Args:
        workbench: the :class:`~byoc_lab.workbench.Workbench` whose parameters to tune.
        refresh_interval: seconds between checks for a swapped processor (None: never;
            call :meth:`refresh` yourself).

    Attributes:
        controls: the control of each parameter, by name.
        message: the message line (errors from the last change).
        heading, empty: the title line, and the note shown instead of controls for a
            processor without parameters.
    """

    def __init__(self, workbench: Workbench, *, refresh_interval: float | None = 0.5) -> None:
        super().__init__()
        self._work = PanelWork("ParamsPanel")
        self.add_class("byoc-params")
        self._workbench = workbench
        self._shown: Any = _UNSET
        self._known: dict[str, Any] = {}  # the core's values as the controls show them
        self._lock = threading.RLock()  # RLock: setting a control runs _changed inline
        self.controls: dict[str, widgets.ValueWidget] = {}
        self.heading = widgets.HTML()
        self.message = widgets.HTML()
        self.message.add_class("byoc-params-message")
        self.empty = widgets.HTML(f"<i>{html.escape(NO_PARAMS)}</i>")
        self.empty.add_class("byoc-params-empty")
        self.refresh()
        if refresh_interval is not None:
            self._work.every(refresh_interval, self.refresh)

    @property
    def workbench(self) -> Workbench:
        """The workbench this panel tunes."""
        return self._workbench

    def refresh(self, *, force: bool = False) -> None:
        """Follow the workbench (any thread).

        Rebuilds the controls when its processor was swapped (or ``force``); otherwise
        moves the controls of parameters whose value changed in the core since the
        panel last saw it (set from a cell, say). A value the user is moving right now
        is left alone: only core changes the panel did not make are shown.
        """
        with self._lock:
            processor = self._workbench.processor
            if processor is not self._shown or force:
                self._shown = processor
                self._rebuild(self._workbench.param_specs(), self._workbench.params())
                return
            for name, value in self._workbench.params().items():
                control = self.controls.get(name)
                if control is not None and self._known.get(name) != value:
                    self._show(name, value)

    def close(self) -> None:
        """Stop the refresh and close the panel and its controls."""
        self._work.close()
        for control in self.controls.values():
            control.close()
        for part in (self.heading, self.message, self.empty):
            part.close()
        super().close()

    def _rebuild(self, specs: list[ParamSpec], values: dict[str, Any]) -> None:
        for old in self.controls.values():
            old.close()
        self.controls = {}
        self._known = {}
        for spec in specs:
            value = values.get(spec.name, spec.default)
            control = control_for(spec, value)
            self._known[spec.name] = value
            control.observe(self._changed, names="value")
            self.controls[spec.name] = control
        name = html.escape(type(self._shown).__name__)
        self.heading.value = f"<b>Parameters</b> of {name}"
        self.message.value = ""
        parts = self.controls.values() if specs else (self.empty,)
        self.children = (self.heading, *parts, self.message)

    def _changed(self, change: dict[str, Any]) -> None:
        """A control moved (main thread for the user; inline when the panel sets one)."""
        with self._lock:
            name = next((n for n, c in self.controls.items() if c is change["owner"]), None)
            if name is None or change["new"] == self._known.get(name):
                return  # a control of an earlier processor, or the panel's own update
            try:
                self._workbench.update_params({name: change["new"]})
            except (ByocLabError, TimeoutError) as exc:
                self.message.value = _error_html(describe_error(exc))
                self._show(name, self._known[name])
            else:
                self._known[name] = self._workbench.params().get(name, change["new"])
                self.message.value = ""

    def _show(self, name: str, value: Any) -> None:
        """Set a control to the core's value without sending it back to the core."""
        self._known[name] = value
        self.controls[name].value = value


def control_for(spec: ParamSpec, value: Any) -> widgets.ValueWidget:
    """The control for one parameter: slider, checkbox, dropdown or text box.

    Numbers with both bounds get a slider (float steps of about 1/100 of the range,
    rounded to a power of ten, finer when the value lies between steps), numbers
    without get a number box.
    """
    common: dict[str, Any] = {
        "description": spec.name,
        "tooltip": spec.help or spec.name,
        "style": {"description_width": "initial"},
        "layout": widgets.Layout(width="98%"),
    }
    control: widgets.ValueWidget
    bounded = spec.min is not None and spec.max is not None
    if spec.kind == "bool":
        control = widgets.Checkbox(value=bool(value), indent=False, **common)
    elif spec.kind == "choice":
        control = widgets.Dropdown(options=list(spec.choices or ()), value=value, **common)
    elif spec.kind == "int" and bounded:
        low, high = math.ceil(spec.min or 0), math.floor(spec.max or 0)
        control = widgets.IntSlider(
            value=value, min=low, max=high, continuous_update=True, **common
        )
    elif spec.kind == "float" and bounded:
        step = _float_step(float(spec.min or 0), float(spec.max or 0), float(value))
        decimals = max(0, -math.floor(math.log10(step)))
        control = widgets.FloatSlider(
            value=value,
            min=spec.min,
            max=spec.max,
            step=step,
            readout_format=f".{decimals}f",
            continuous_update=True,
            **common,
        )
    elif spec.kind == "int":
        control = widgets.IntText(value=value, continuous_update=True, **common)
    elif spec.kind == "float":
        control = widgets.FloatText(value=value, continuous_update=True, **common)
    else:
        control = widgets.Text(value=str(value), continuous_update=False, **common)
    control.add_class(f"byoc-param-{spec.name}")
    return control


def _float_step(low: float, high: float, value: float) -> float:
    """About 1/100 of the range as a power of ten, finer if ``value`` falls between steps."""
    span = high - low
    if span <= 0 or not math.isfinite(span):
        return 0.01
    step = float(10 ** math.floor(math.log10(span / 100)))
    while step > 1e-6 and abs(round((value - low) / step) * step + low - value) > 1e-9:
        step /= 10
    return step


def _error_html(text: str) -> str:
    return f'<span style="color:#b00020">{html.escape(text)}</span>'
