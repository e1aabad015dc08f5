"""A still of the preview in a displayed widget's output, for readers without a kernel.

A notebook saved with a live widget shows nothing on a code host or in nbviewer: they
cannot run the widget's JavaScript. Widgets that show frames add the latest frame, input
beside output, as ``image/jpeg`` next to the widget-view entry of their MIME bundle.
JupyterLab prefers the widget view (a live kernel), other renderers fall back to the
still. The still is taken when the cell displays the widget, waiting up to
``STILL_WAIT`` seconds for a first frame.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from byoc_lab.frames import encode_image
from byoc_lab.preview import PreviewFrame

__all__ = ["STILL_WAIT", "still_wait", "with_still"]

STILL_WAIT = 2.0


def still_wait(feed: object) -> float:
    """How long to wait for a first frame of ``feed``: only a playing preview gets time.

    A feed without a ``state`` (a stream run) is waited for as well: its frames come
    from a preview that plays.
    """
    state = getattr(feed, "state", None)
    if state is None:
        return STILL_WAIT
    return STILL_WAIT if getattr(state, "value", state) == "playing" else 0.0


def with_still(
    bundle: Any,
    latest: Callable[[], PreviewFrame | None],
    *,
    wait: float = STILL_WAIT,
    output_only: bool = False,
) -> Any:
    """``bundle`` (a widget's MIME bundle) plus ``image/jpeg`` of the latest frame, if any.

    The still is input beside output, or the output alone with ``output_only`` (what
    a view showing only the output pane draws). It waits up to ``wait`` seconds for a
    first frame: pass 0 for a feed that is not producing frames (a paused preview).
    """
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    if not isinstance(data, dict):
        return bundle
    deadline = time.monotonic() + wait
    frame = latest()
    while frame is None and time.monotonic() < deadline:
        time.sleep(0.05)
        frame = latest()
    if frame is not None:
        image = frame.output if output_only and frame.output is not None else None
        jpeg = encode_image(image if image is not None else frame.side_by_side(), "jpeg", 80)
        data["image/jpeg"] = base64.b64encode(jpeg).decode("ascii")
    return bundle
