"""``Editor``: edit the workbench's processor source; Apply hot-swaps it.

The browser side (``static/editor.js``) is a textarea over a syntax-highlighted
``<pre>`` with line numbers, Tab / Shift+Tab indentation and Ctrl/Cmd+Enter for Apply.
Apply sends ``{"type": "apply", "source": text}`` (the text travels with the message,
so Python never applies a stale ``source``); the kernel answers ``{"type": "applied",
"ok": bool}`` when done, after setting the traits:

- ``source`` (str, synced both ways; the browser also pushes it while typing),
- ``error``: ``{"line": int | None, "message": str}`` of the last failed apply, ``{}``
  after a success,
- ``status``: e.g. ``"Applied GreenTint at 12:03:04 (into preview, worker)"``.

Compiling, checking and swapping is :meth:`Workbench.apply`'s job; a failed apply
leaves the previous processor running there. The apply runs on the kernel's main
thread (where comm messages arrive) and takes as long as the workbench's contract
check on one frame, bounded by its ``frame_timeout``.

CSS (stable): ``.byoc-editor`` root, ``.byoc-editor textarea``, ``.byoc-editor-apply``,
``.byoc-editor-error`` (message box), ``.byoc-editor-error-line`` (the gutter line),
``.byoc-editor-status``; tokens ``.tok-kw``, ``.tok-str``, ``.tok-comment``, ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from byoc_lab.errors import ByocLabError
from byoc_lab.listeners import Listeners
from byoc_lab.tracebacks import user_line
from byoc_lab.widgets._assets import static

if TYPE_CHECKING:
    from byoc_lab.workbench import ApplyResult, Workbench

__all__ = ["Editor", "error_line"]

ApplyCallback = Callable[["ApplyResult"], None]


def error_line(exc: BaseException) -> int | None:
    """The line of the user's text an error points at: its ``line``, else its traceback's."""
    line = getattr(exc, "line", None)
    if isinstance(line, int):
        return line
    seen: BaseException | None = exc
    while seen is not None:
        where = user_line(seen)
        if where is not None:
            return where[1]
        seen = seen.__cause__ or seen.__context__
    return None


class Editor(anywidget.AnyWidget):
    """A Python editor bound to a workbench: Apply compiles, checks and hot-swaps.

    Args:
        workbench: the :class:`~byoc_lab.workbench.Workbench` that applies the text.
        source: the text to start with (default: ``workbench.source_text``).

    Holds no state of its own beyond the traits; :meth:`close` closes the comm only
    (the workbench belongs to the caller).
    """

    _esm = static("editor.js")
    _css = static("byoc.css")

    source = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Dict().tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, workbench: Workbench, *, source: str | None = None) -> None:
        text = source if source is not None else workbench.source_text
        super().__init__(source=text)
        self._workbench = workbench
        self._callbacks: Listeners[ApplyResult] = Listeners("Editor.on_apply")
        self.on_msg(self._on_browser_message)
        self._unfollow = workbench.on_change(self._follow)

    @property
    def workbench(self) -> Workbench:
        """The workbench this editor applies to."""
        return self._workbench

    def on_apply(self, callback: ApplyCallback) -> Callable[[], None]:
        """Call ``callback(result)`` after every successful apply; returns an unsubscribe.

        Callbacks run on the thread that applied (the kernel's main thread for the
        Apply button). One that raises is logged and does not undo the apply.
        """
        return self._callbacks.add(callback)

    def apply(self, source: str | None = None) -> ApplyResult | None:
        """Apply ``source`` (default: the current ``source`` trait) to the workbench.

        Returns the workbench's result, or None when the text was refused; then
        ``error`` holds ``{"line", "message"}`` and the previous processor keeps
        running. Errors other than byoc_lab's own (a bug) propagate.
        """
        if source is not None:
            self.source = source
        try:
            result = self._workbench.apply(self.source)
        except ByocLabError as exc:
            self.error = {"line": error_line(exc), "message": str(exc)}
            self.status = f"Not applied at {time.strftime('%H:%M:%S')}: the previous processor runs"
            return None
        self.error = {}
        self.status = _applied_status(result)
        self._callbacks.notify(result)  # a listener's bug is logged, never undoes the apply
        return result

    def _follow(self, result: ApplyResult) -> None:
        """Workbench listener: show the text of a processor swapped in elsewhere.

        A ``%%processor`` cell or ``workbench.use(...)`` changes what runs; the editor
        then shows that processor's text, so a later Apply does not bring back the old one.
        """
        text = self._workbench.source_text
        if text == self.source:
            return  # this editor's own apply
        self.source = text
        self.error = {}
        when = time.strftime("%H:%M:%S")
        self.status = f"Showing {result.class_name}, swapped in from code at {when}"

    def close(self) -> None:
        """Stop following the workbench and close the comm (the workbench stays)."""
        self._unfollow()
        super().close()

    def _on_browser_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Comm callback (kernel main thread): the Apply button or Ctrl/Cmd+Enter."""
        if not isinstance(content, dict) or content.get("type") != "apply":
            return
        text = content.get("source")
        ok = False
        try:
            ok = self.apply(text if isinstance(text, str) else None) is not None
        finally:
            self.send({"type": "applied", "ok": ok})


def _applied_status(result: ApplyResult) -> str:
    into = ", ".join(result.swapped_into) or "nothing running yet"
    carried = ", ".join(f"{k}={v!r}" for k, v in result.carried.items())
    kept = f"; kept {carried}" if carried else ""
    return f"Applied {result.class_name} at {time.strftime('%H:%M:%S')} (into {into}{kept})"
