"""Export: a processor to a Docker build context that runs it as a Livepeer BYOC worker.

::

    import byoc_lab

    result = byoc_lab.export("examples/green_tint.py:GreenTintProcessor", "out/",
                             capability="green-tint-cpu")
    print(result)          # the files written, then the build and run commands

or ``byoc-lab export examples/green_tint.py:GreenTintProcessor out/``. See
:func:`~byoc_lab.export.api.export` for every option.

The pieces, each usable alone:

- :mod:`~byoc_lab.export.spec`: :class:`ContainerSpec` (frozen), base images, checks;
- :mod:`~byoc_lab.export.dockerfile`: :func:`render_dockerfile` (pure);
- :mod:`~byoc_lab.export.files`: :func:`render_context`, every other file (pure);
- :mod:`~byoc_lab.export.source`, :mod:`~byoc_lab.export.notebook`: finding the source;
- :mod:`~byoc_lab.export.requirements`: imports → pinned distributions;
- :mod:`~byoc_lab.export.preflight`: the checks that run before anything is written;
- :mod:`~byoc_lab.export.context`: the atomic write; :mod:`~byoc_lab.export.wheel`:
  byoc_lab's own wheel; :mod:`~byoc_lab.export.build`: ``docker build``.

``byoc_lab.export`` names both this package and the function: the package is callable,
so ``byoc_lab.export(...)`` exports however the package was first imported.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

from byoc_lab.export.api import ExportResult
from byoc_lab.export.api import export as _export
from byoc_lab.export.build import BuildOutcome, build_image, docker_engine_problem
from byoc_lab.export.dockerfile import render_dockerfile
from byoc_lab.export.files import render_context
from byoc_lab.export.spec import BaseImage, ContainerSpec, resolve_base

__all__ = [
    "BaseImage",
    "BuildOutcome",
    "ContainerSpec",
    "ExportResult",
    "build_image",
    "docker_engine_problem",
    "export",
    "render_context",
    "render_dockerfile",
    "resolve_base",
]


class _CallableExportModule(types.ModuleType):
    """The ``byoc_lab.export`` package, which calling runs :func:`export`."""

    def __call__(self, *args: Any, **kwargs: Any) -> ExportResult:
        return _export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableExportModule
__signature__ = inspect.signature(_export)  # what help() and IPython's `?` show for a call

if TYPE_CHECKING:
    export = _export
else:
    # `byoc_lab.export` (the lazy top-level name) resolves to this attribute: the
    # callable package itself, so that it stays the package for submodule access.
    export = sys.modules[__name__]
