"""The one exception tree of byoc_lab.

Every error byoc_lab raises on purpose is a :class:`ByocLabError`. Messages say what
was expected, what arrived and what to do, so a newcomer can fix the problem from the
message alone::

    ByocLabError
    ├── DependencyError         an optional package (OpenCV, …) is missing
    ├── NotAvailableError       a capability that this build does not offer (yet)
    ├── RuntimeStateError       an object was used in a state that does not allow it
    ├── ProcessorError
    │   ├── ProcessorLoadError  "file.py:Class" could not be found or imported
    │   │   └── ProcessorSourceError  source text (editor, cell) that does not define
    │   │                       one working processor; carries ``line``
    │   ├── ContractError       the class does not follow the processor contract
    │   └── FrameContractError  process() got or returned a frame of the wrong form
    ├── ParamError              a parameter value is unknown, of the wrong type or out of bounds
    ├── FrameError              bytes/arrays that are not a valid RGB frame or image
    ├── SourceError             a camera, image or video that cannot be read
    ├── RequestError            an HTTP request a byoc_lab server rejects; carries ``status``
    ├── RegistrationError       an orchestrator refused a capability registration
    ├── JobError                a gateway refused or failed a client call; carries ``status``
    │   └── JobTimeoutError     no answer, or no stream output, within the time allowed
    ├── ExportError             a container build context cannot be written or built;
    │   │                       carries ``check`` (destination, base, port, capability, …)
    │   └── PreflightError      the processor would not run in the exported container
    ├── TrickleError            a trickle channel operation failed
    │   ├── StreamNotFoundError the channel does not exist (HTTP 404) or was deleted
    │   ├── StreamClosedError   the channel was closed by its publisher or server
    │   ├── TrickleTimeoutError no usable answer within the retry policy's bounds
    │   ├── TrickleHTTPError    an unexpected HTTP status; carries ``status`` and ``url``
    │   ├── ChannelNameError    a channel name that is not safe in a URL (server side)
    │   └── ChannelLimitError   the trickle server already hosts its maximum of channels
    └── MediaError              MPEG-TS / H.264 media that cannot be decoded or encoded
        ├── DecodeError         input bytes that are not decodable media
        └── EncodeError         frames the encoder cannot take
"""

from __future__ import annotations

__all__ = [
    "ByocLabError",
    "ChannelLimitError",
    "ChannelNameError",
    "ContractError",
    "DecodeError",
    "DependencyError",
    "EncodeError",
    "ExportError",
    "FrameContractError",
    "FrameError",
    "JobError",
    "JobTimeoutError",
    "MediaError",
    "NotAvailableError",
    "ParamError",
    "PreflightError",
    "ProcessorError",
    "ProcessorLoadError",
    "ProcessorSourceError",
    "RegistrationError",
    "RequestError",
    "RuntimeStateError",
    "SourceError",
    "StreamClosedError",
    "StreamNotFoundError",
    "TrickleError",
    "TrickleHTTPError",
    "TrickleTimeoutError",
]


class ByocLabError(Exception):
    """Base of every error byoc_lab raises on purpose.

    Args:
        message: what went wrong, in one sentence.
        expected: what byoc_lab expected to find (optional).
        got: what it found instead (optional).
        fix: what the user can do about it (optional).

    The rendered message joins the parts, e.g. ``process() returned the wrong shape:
    expected (480, 640, 3) uint8 RGB, got (480, 640) float64. Fix: return …``.
    """

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.expected = expected
        self.got = got
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.expected is not None and self.got is not None:
            text += f": expected {self.expected}, got {self.got}"
        elif self.expected is not None:
            text += f": expected {self.expected}"
        elif self.got is not None:
            text += f": got {self.got}"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class DependencyError(ByocLabError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class NotAvailableError(ByocLabError):
    """A capability that exists in the API but is not available in this build or machine."""


class RuntimeStateError(ByocLabError):
    """An object was used in a state that does not allow the call (e.g. stopped)."""


class ProcessorError(ByocLabError):
    """Base for problems with a user's processor."""


class ProcessorLoadError(ProcessorError):
    """A processor spec ("file.py:Class" or "pkg.mod:Class") could not be loaded."""


class ProcessorSourceError(ProcessorLoadError):
    """Processor source text (the editor, a ``%%processor`` cell) that cannot be used.

    ``line`` is the 1-based line of that text the problem is on (None when it is not
    about one line, e.g. "defines no processor class"); ``filename`` names the text.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        filename: str | None = None,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.line = line
        self.filename = filename
        super().__init__(message, expected=expected, got=got, fix=fix)


class ContractError(ProcessorError):
    """A processor class does not follow the initialize/process/shutdown contract."""


class FrameContractError(ProcessorError):
    """process() was fed, or returned, a frame that breaks the contract.

    ``frame_index`` is the index of the frame concerned, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
        frame_index: int | None = None,
    ) -> None:
        self.frame_index = frame_index
        super().__init__(message, expected=expected, got=got, fix=fix)


class ParamError(ByocLabError, ValueError):
    """A processor parameter is unknown, of the wrong type or out of bounds."""


class FrameError(ByocLabError, ValueError):
    """Data that is not a valid frame (RGB uint8 HxWx3) or a decodable image."""


class SourceError(ByocLabError):
    """A frame source (camera, image files, video file) cannot be opened or read."""


class TrickleError(ByocLabError):
    """A trickle publish/subscribe operation failed; ``url`` names the channel or segment."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.url = url
        super().__init__(message, expected=expected, got=got, fix=fix)


class StreamNotFoundError(TrickleError):
    """The trickle channel does not exist (HTTP 404), or was deleted while in use."""


class StreamClosedError(TrickleError):
    """The trickle channel was closed (``Lp-Trickle-Closed``); no more segments will come."""


class TrickleTimeoutError(TrickleError, TimeoutError):
    """No usable answer from the trickle server within the retry policy's bounds."""


class TrickleHTTPError(TrickleError):
    """The trickle server answered with an unexpected HTTP status (``status``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        url: str | None = None,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        super().__init__(message, url=url, expected=expected, got=got, fix=fix)


class ChannelNameError(TrickleError, ValueError):
    """A trickle channel name that is empty, too long, or holds characters unsafe in a URL."""


class ChannelLimitError(TrickleError):
    """The trickle server already hosts ``max_channels`` open channels; close one first."""


class MediaError(ByocLabError):
    """MPEG-TS / H.264 media that cannot be decoded or encoded."""


class DecodeError(MediaError):
    """Input bytes that are not decodable media (garbage, truncated, unsupported codec)."""


class EncodeError(MediaError):
    """Frames the encoder cannot take (size changed mid-segment, odd dimensions, …)."""


class RequestError(ByocLabError):
    """An HTTP request that a byoc_lab server rejects.

    ``status`` is the HTTP status to answer with (400 unless said otherwise) and
    ``field`` names the offending JSON field or header, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        field: str | None = None,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        self.field = field
        super().__init__(message, expected=expected, got=got, fix=fix)


class RegistrationError(ByocLabError):
    """An orchestrator refused, or could not be reached for, a capability registration."""


class JobError(ByocLabError):
    """A gateway refused or failed a client's call (batch job, stream start/update/stop).

    Attributes:
        status: the HTTP status the gateway answered, or 0 when there was no answer
            (unreachable, TLS failure, timeout).
        url: the URL that was called.
        text: the server's answer, decoded as text ("" without an answer).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        url: str | None = None,
        text: str = "",
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        self.url = url
        self.text = text
        super().__init__(message, expected=expected, got=got, fix=fix)


class JobTimeoutError(JobError, TimeoutError):
    """No answer from the gateway, or no output from a stream, within the time allowed."""


class ExportError(ByocLabError):
    """A container build context that cannot be written, or an image that cannot be built.

    ``check`` names what failed: ``"destination"``, ``"target"``, ``"base"``,
    ``"port"``, ``"capability"``, ``"tag"``, ``"requirements"``, ``"wheel"`` or
    ``"build"`` (a ``docker build`` that ran and failed; the context stays).
    """

    def __init__(
        self,
        message: str,
        *,
        check: str,
        expected: str | None = None,
        got: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.check = check
        super().__init__(message, expected=expected, got=got, fix=fix)


class PreflightError(ExportError):
    """The processor would not run in the exported container; nothing was written.

    ``check`` names the failed check: ``"source"`` (file or class missing, syntax),
    ``"globals"`` (names the exported file never defines, e.g. notebook globals),
    ``"imports"`` (imports no requirement provides, or relative ones), and from the
    clean-interpreter run ``"load"``, ``"contract"``, ``"schema"``, ``"initialize"``,
    ``"process"``, ``"shutdown"`` or ``"timeout"``.
    """
