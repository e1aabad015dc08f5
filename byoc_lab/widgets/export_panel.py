"""``ExportPanel``: check, export and build the workbench's processor as a container.

Target, base image, capability, destination and overwrite map one to one onto
:func:`byoc_lab.export`'s arguments. "Check" runs the preflight checks alone (nothing
is written), "Export" writes the build context (through :meth:`Workbench.export`, so
the editor's source is what is exported) and shows the files and the Dockerfile,
"Build image" runs ``docker build`` on it where a Docker engine answers; elsewhere the
button stays disabled and the panel says why. Preflight and build run subprocesses,
so all three run off the kernel's thread (:class:`~byoc_lab.widgets._background.PanelWork`).

CSS classes: ``byoc-export`` (panel), ``byoc-export-target``, ``byoc-export-base``,
``byoc-export-capability``, ``byoc-export-dest``, ``byoc-export-overwrite``,
``byoc-export-check``, ``byoc-export-run``, ``byoc-export-build``,
``byoc-export-message``, ``byoc-export-engine``, ``byoc-export-files``,
``byoc-export-dockerfile`` (a ``<pre>``), ``byoc-export-log`` (build output).
"""

from __future__ import annotations

import html
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from byoc_lab.widgets._background import Outcome, PanelWork, describe_error

if TYPE_CHECKING:
    from byoc_lab.export import BuildOutcome, ExportResult
    from byoc_lab.workbench import Workbench

__all__ = ["ExportPanel"]

_LOG_LINES = 200


class ExportPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Export controls for a :class:`~byoc_lab.workbench.Workbench`'s processor.

    Args:
        workbench: whose processor (and editor source) to export.
        capability: the initial capability name (default: the workbench's).

    Attributes:
        result: the last :class:`~byoc_lab.export.ExportResult`, or None.
        engine_problem: why no image can be built here (None: a Docker engine answers;
            "checking…" until the check returns).
    """

    def __init__(self, workbench: Workbench, *, capability: str | None = None) -> None:
        super().__init__()
        self._work = PanelWork("ExportPanel")
        self.add_class("byoc-export")
        self._workbench = workbench
        self._lock = threading.Lock()
        self._log: deque[str] = deque(maxlen=_LOG_LINES)
        self.result: ExportResult | None = None
        self._action: str | None = None  # the check/export/build running now
        self.engine_problem: str | None = "checking…"
        name = capability if capability is not None else workbench.capability
        self.target = _classed(
            widgets.Dropdown(options=["byoc_lab", "pytrickle"], description="target"),
            "byoc-export-target",
        )
        self.base = _classed(
            widgets.Combobox(
                value="cpu",
                options=["cpu", "cuda"],
                placeholder="cpu, cuda or image:tag",
                ensure_option=False,
                description="base",
            ),
            "byoc-export-base",
        )
        self.capability = _classed(
            widgets.Text(value=name, description="capability"), "byoc-export-capability"
        )
        self.dest = _classed(
            widgets.Text(value=_default_dest(name), description="destination"), "byoc-export-dest"
        )
        self.overwrite = _classed(
            widgets.Checkbox(value=False, description="overwrite an earlier export", indent=False),
            "byoc-export-overwrite",
        )
        self.check_button = _button("Check", "byoc-export-check", "run the preflight checks only")
        self.export_button = _button("Export", "byoc-export-run", "write the build context")
        self.build_button = _button("Build image", "byoc-export-build", "docker build")
        self.build_button.disabled = True
        self.message = _classed(widgets.HTML(), "byoc-export-message")
        self.engine = _classed(widgets.HTML("Docker: checking…"), "byoc-export-engine")
        self.files = _classed(widgets.HTML(), "byoc-export-files")
        self.dockerfile = _classed(widgets.HTML(), "byoc-export-dockerfile")
        self.build_log = _classed(widgets.HTML(), "byoc-export-log")
        self.capability.observe(self._capability_changed, names="value")
        self.check_button.on_click(lambda _: self.check())
        self.export_button.on_click(lambda _: self.export())
        self.build_button.on_click(lambda _: self.build())
        for control in (self.target, self.base, self.capability, self.dest):
            control.style = {"description_width": "initial"}
        self.children = (
            widgets.HBox([self.target, self.base]),
            widgets.HBox([self.capability, self.dest, self.overwrite]),
            widgets.HBox([self.check_button, self.export_button, self.build_button]),
            self.message,
            self.engine,
            self.files,
            self.dockerfile,
            self.build_log,
        )
        self._work.run(_engine_problem, self._engine_known)

    # -- actions (button handlers; each returns at once) ---------------------------------

    def check(self) -> None:
        """Run the preflight checks in the background; the message line tells the result."""
        options = self._options()
        dest = self.dest.value
        if not self._start("check", "running the preflight checks…"):
            return
        self._work.run(lambda: _preflight(self._workbench, dest, options), self._checked)

    def export(self) -> None:
        """Write the build context in the background; then show files and Dockerfile."""
        options = self._options()
        dest = self.dest.value
        if not self._start("export", f"exporting to {html.escape(dest)}…"):
            return
        self._work.run(lambda: self._workbench.export(dest, build=False, **options), self._exported)

    def build(self) -> None:
        """``docker build`` the last export in the background, output in the build log."""
        result = self.result
        if result is None or self.engine_problem is not None:
            return
        from byoc_lab.export import build_image

        if not self._start("build", f"building {html.escape(result.spec.tag)}…"):
            return
        self._log.clear()
        self._work.run(
            lambda: build_image(result.path, result.spec.tag, echo=self._echo), self._built
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running check/export/build; False if it still runs after ``timeout``."""
        return self._work.wait(timeout)

    def close(self) -> None:
        """Wait for running work (bounded), then close the panel's widgets."""
        self._work.close()
        for child in self.children:
            _close_tree(child)
        super().close()

    # -- completion callbacks (worker thread) --------------------------------------------

    def _engine_known(self, outcome: Outcome[str | None]) -> None:
        problem = describe_error(outcome.error) if outcome.error else outcome.value
        self.engine_problem = problem
        if problem is None:
            self.engine.value = "Docker: an engine answers; Build image builds the last export."
        else:
            self.engine.value = html.escape(f"Docker: no image can be built here ({problem}).")
        self._enable()

    def _checked(self, outcome: Outcome[Any]) -> None:
        if outcome.error is not None:
            self._finish(_error(describe_error(outcome.error)))
        else:
            self._finish(
                _ok(
                    "preflight passed: the processor runs in a clean interpreter with only "
                    "processor.py and its requirements, and the destination is usable"
                )
            )

    def _exported(self, outcome: Outcome[ExportResult]) -> None:
        result = outcome.value
        if outcome.error is not None or result is None:
            self._finish(_error(describe_error(outcome.error or RuntimeError("no result"))))
            return
        self.result = result
        names = ", ".join(f"<code>{html.escape(name)}</code>" for name in result.files)
        self.files.value = f"Wrote {html.escape(str(result.path))}: {names}"
        text = (result.path / "Dockerfile").read_text(encoding="utf-8")
        self.dockerfile.value = f"<pre>{html.escape(text)}</pre>"
        warnings = "".join(f"<br>warning: {html.escape(w)}" for w in result.warnings)
        self._finish(_ok(f"exported {html.escape(result.spec.capability)}") + warnings)

    def _built(self, outcome: Outcome[BuildOutcome]) -> None:
        built = outcome.value
        if outcome.error is not None or built is None:
            self._finish(_error(describe_error(outcome.error or RuntimeError("no result"))))
        else:
            self._finish(html.escape(built.message))

    # -- helpers -------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        return {
            "target": self.target.value,
            "base": self.base.value.strip() or "cpu",
            "capability": self.capability.value.strip(),
            "overwrite": bool(self.overwrite.value),
        }

    def _start(self, action: str, text: str) -> bool:
        with self._lock:
            if self._action is not None:
                return False
            self._action = action
        for button in (self.check_button, self.export_button, self.build_button):
            button.disabled = True
        self.message.value = text
        return True

    def _finish(self, text: str) -> None:
        self.message.value = text
        with self._lock:
            self._action = None
        self._enable()

    def _enable(self) -> None:
        busy = self._action is not None
        self.check_button.disabled = busy
        self.export_button.disabled = busy
        self.build_button.disabled = busy or self.result is None or self.engine_problem is not None

    def _echo(self, line: str) -> None:
        with self._lock:
            self._log.append(line)
            text = "\n".join(self._log)
        self.build_log.value = f"<pre>{html.escape(text)}</pre>"

    def _capability_changed(self, change: dict[str, Any]) -> None:
        if self.dest.value == _default_dest(change["old"]):
            self.dest.value = _default_dest(change["new"])


def _preflight(workbench: Workbench, dest: str, options: dict[str, Any]) -> None:
    """Every check :func:`byoc_lab.export` runs, without writing to ``dest``.

    byoc_lab offers no public preflight-only call, so this exports into a temporary
    directory (removed afterwards), then checks that ``dest`` may receive the context.
    """
    from byoc_lab.export.context import check_destination

    with tempfile.TemporaryDirectory(prefix="byoc_lab-check-") as tmp:
        workbench.export(str(Path(tmp) / "context"), **{**options, "overwrite": False})
    check_destination(Path(dest).expanduser().resolve(), overwrite=options["overwrite"])


def _engine_problem() -> str | None:
    from byoc_lab.export import docker_engine_problem

    return docker_engine_problem()


def _default_dest(capability: str) -> str:
    return str(Path("export") / (capability.strip() or "processor"))


def _classed(widget: Any, css: str) -> Any:
    widget.add_class(css)
    return widget


def _button(label: str, css: str, tooltip: str) -> widgets.Button:
    button = widgets.Button(description=label, tooltip=tooltip)
    button.add_class(css)
    return button


def _close_tree(widget: Any) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


def _ok(text: str) -> str:
    return f'<span style="color:#1b5e20">{text}</span>'


def _error(text: str) -> str:
    return f'<span style="color:#b00020">{html.escape(text)}</span>'
