"""byoc_lab: build, preview, serve and export Livepeer BYOC video processors.

The public API is what ``__all__`` lists. Importing byoc_lab is fast and pulls in
neither Jupyter (ipywidgets, IPython), nor torch, nor PyAV: notebook widgets live in
``byoc_lab.widgets`` and media code loads when a stream first needs it.
"""

import typing as _typing

from .builtins import Grayscale, GreenTint, Passthrough
from .check import CheckReport, acheck_processor, check_processor
from .errors import (
    ByocLabError,
    ContractError,
    DependencyError,
    ExportError,
    FrameContractError,
    FrameError,
    JobError,
    JobTimeoutError,
    MediaError,
    NotAvailableError,
    ParamError,
    PreflightError,
    ProcessorError,
    ProcessorLoadError,
    ProcessorSourceError,
    RegistrationError,
    RequestError,
    RuntimeStateError,
    SourceError,
    TrickleError,
)
from .framecode import read_frame_number
from .frames import Frame
from .loader import load_processor
from .params import Param, ParamSpec
from .processor import FrameProcessor, run_processor
from .sources import (
    FrameSource,
    ImageSource,
    SyntheticSource,
    VideoFileSource,
    WebcamSource,
    open_source,
)

if _typing.TYPE_CHECKING:
    from .client import GatewayClient
    from .export import export
    from .network.local import LocalNetwork
    from .workbench import Workbench
    from .worker.handle import Worker

__version__ = "0.1.0"

# Heavier parts (aiohttp, PyAV) load on first use, so `import byoc_lab` stays fast.
_LAZY = {
    "Worker": "byoc_lab.worker.handle",
    "LocalNetwork": "byoc_lab.network.local",
    "GatewayClient": "byoc_lab.client",
    "export": "byoc_lab.export",
    "Workbench": "byoc_lab.workbench",
    "Lab": "byoc_lab.widgets.lab",  # imports ipywidgets: only when asked for
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byoc_lab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: _typing.Any) -> None:
    """``%load_ext byoc_lab``: register the ``%%processor`` cell magic with IPython."""
    from .widgets.magic import load_ipython_extension as load

    load(ipython)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ByocLabError",
    "CheckReport",
    "ContractError",
    "DependencyError",
    "ExportError",
    "Frame",
    "FrameContractError",
    "FrameError",
    "FrameProcessor",
    "FrameSource",
    "GatewayClient",
    "Grayscale",
    "GreenTint",
    "ImageSource",
    "JobError",
    "JobTimeoutError",
    "Lab",
    "LocalNetwork",
    "MediaError",
    "NotAvailableError",
    "Param",
    "ParamError",
    "ParamSpec",
    "Passthrough",
    "PreflightError",
    "ProcessorError",
    "ProcessorLoadError",
    "ProcessorSourceError",
    "RegistrationError",
    "RequestError",
    "RuntimeStateError",
    "SourceError",
    "SyntheticSource",
    "TrickleError",
    "VideoFileSource",
    "WebcamSource",
    "Workbench",
    "Worker",
    "__version__",
    "acheck_processor",
    "check_processor",
    "export",
    "load_ipython_extension",
    "load_processor",
    "open_source",
    "read_frame_number",
    "run_processor",
]
