"""Live preview of a processor on a frame source, for notebooks and their widgets.

:class:`PreviewEngine` reads a source and runs ``process()`` on byoc_lab's background
loop, the latest frame winning end to end; :class:`PreviewFrame` carries one frame's
input, output or error (JPEG-encoded on demand); :class:`FrameDelivery` sends frames
to one browser view with at most one in flight. The widgets in
:mod:`byoc_lab.widgets` only hold these objects and show what they report.
"""

from byoc_lab.preview.delivery import DeliveryStats, FrameDelivery
from byoc_lab.preview.engine import PreviewEngine, PreviewState
from byoc_lab.preview.frame import PreviewFrame
from byoc_lab.preview.stats import PreviewStats

__all__ = [
    "DeliveryStats",
    "FrameDelivery",
    "PreviewEngine",
    "PreviewFrame",
    "PreviewState",
    "PreviewStats",
]
