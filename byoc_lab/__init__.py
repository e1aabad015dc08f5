"""byoc_lab: build, preview, serve and export Livepeer BYOC video processors.

The public API is what ``__all__`` lists. Importing byoc_lab is fast and pulls in
neither Jupyter (ipywidgets, IPython), nor torch, nor PyAV: notebook widgets live in
``byoc_lab.widgets`` and media code loads when a stream first needs it.
"""

from .builtins import Grayscale, GreenTint, Passthrough
from .check import CheckReport, acheck_processor, check_processor
from .errors import (
    ByocLabError,
    ContractError,
    DependencyError,
    FrameContractError,
    FrameError,
    NotAvailableError,
    ParamError,
    ProcessorError,
    ProcessorLoadError,
    RuntimeStateError,
    SourceError,
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

__version__ = "0.1.0"

__all__ = [
    "ByocLabError",
    "CheckReport",
    "ContractError",
    "DependencyError",
    "Frame",
    "FrameContractError",
    "FrameError",
    "FrameProcessor",
    "FrameSource",
    "Grayscale",
    "GreenTint",
    "ImageSource",
    "NotAvailableError",
    "Param",
    "ParamError",
    "ParamSpec",
    "Passthrough",
    "ProcessorError",
    "ProcessorLoadError",
    "RuntimeStateError",
    "SourceError",
    "SyntheticSource",
    "VideoFileSource",
    "WebcamSource",
    "__version__",
    "acheck_processor",
    "check_processor",
    "load_processor",
    "open_source",
    "read_frame_number",
    "run_processor",
]
