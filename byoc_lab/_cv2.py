"""Lazy access to OpenCV, the only way core modules reach ``cv2``.

OpenCV comes from one of two extras that must never be installed together:
``byoc_lab[lab]`` (opencv-python, for notebooks) and ``byoc_lab[container]``
(opencv-python-headless, for images without libGL). Both provide the module ``cv2``.
"""

from __future__ import annotations

from types import ModuleType

from .errors import DependencyError

_HINT = (
    'install it with `pip install "byoc_lab[lab]"` in a notebook environment, or '
    '`pip install "byoc_lab[container]"` in a container'
)


def import_cv2(purpose: str) -> ModuleType:
    """Return the ``cv2`` module, or raise :class:`DependencyError` naming the extra.

    Args:
        purpose: what the caller needs OpenCV for, used in the message.
    """
    try:
        import cv2
    except ImportError as exc:
        raise DependencyError(
            f"OpenCV is needed to {purpose} but cannot be imported ({exc})",
            fix=_HINT,
        ) from exc
    return cv2
