"""The processor contract.

A processor is a class with three methods, only one of them required::

    class GreenTint(FrameProcessor):
        boost = Param(80, min=0, max=255)

        async def initialize(self):          # optional, once, before the first frame
            ...
        def process(self, frame: np.ndarray) -> np.ndarray:   # required
            ...
        async def shutdown(self):            # optional, once, after the last frame
            ...

``process`` receives what it declares. Annotated ``bytes`` (the original quickstart's
``async def process(self, frame: bytes) -> bytes``), it gets packed RGB bytes
``width*height*3`` long and must return the same number of bytes. Otherwise it gets
an RGB ``uint8`` array of shape ``(height, width, 3)`` and returns one (any size).
Sync and async methods both work. A processor knows nothing about ports, routes,
trickle or Docker: hosts (preview, worker, export) adapt it through
:class:`~byoc_lab.runner.ProcessorRunner`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from .emit import send_data
from .errors import ParamError
from .params import Param, ParamSpec

__all__ = ["FrameProcessor", "InputFormat", "run_processor"]

InputFormat = Literal["auto", "rgb", "bytes"]


class FrameProcessor:
    """Base class for frame processors; subclass it and define ``process(frame)``.

    Class attributes:
        input_format: ``"auto"`` (default) reads ``process``'s annotation: ``bytes``
            means packed RGB bytes, anything else an RGB array. Set ``"rgb"`` or
            ``"bytes"`` to say it explicitly.

    Keyword arguments to the constructor set declared parameters, validated.
    """

    input_format: ClassVar[InputFormat] = "auto"

    def __init__(self, **params: Any) -> None:
        if params:
            self.update_params(params)

    async def initialize(self) -> None:
        """Run once before the first frame (load models here). Override if needed."""

    async def shutdown(self) -> None:
        """Run once after the last frame (free resources here). Override if needed."""

    def send_data(self, obj: Any) -> bool:
        """Emit ``obj`` next to the frames; call it from ``process()``.

        In a live stream ``obj`` becomes one JSON line (``json.dumps(obj)``, under
        64 KiB) on the stream's data channel, which a gateway turns into one
        server-sent event. Elsewhere (previews, checks, batch jobs) nothing collects
        data and the call does nothing. Never raises for the data itself: a line that
        is too long or not JSON-serialisable is counted and reported by the host.

        Returns:
            True if the host accepted ``obj``.
        """
        return send_data(obj)

    @classmethod
    def declared_params(cls) -> dict[str, Param[Any]]:
        """Return the declared parameters by name, base classes first."""
        found: dict[str, Param[Any]] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Param):
                    found[name] = value
        return found

    @classmethod
    def param_schema(cls) -> list[ParamSpec]:
        """Return the schema of every declared parameter, in declaration order."""
        return [p.spec for p in cls.declared_params().values()]

    def get_params(self) -> dict[str, Any]:
        """Return the current value of every declared parameter."""
        return {name: getattr(self, name) for name in self.declared_params()}

    def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and apply parameter values; all or nothing.

        Returns the values that changed. Raises :class:`ParamError` naming the first
        unknown, mistyped or out-of-bounds parameter; then nothing is applied.
        Override to accept more than the declared parameters (prompts, say).
        """
        declared = self.declared_params()
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise ParamError(
                f"{type(self).__name__} has no parameter {', '.join(map(repr, unknown))}",
                expected=f"one of {', '.join(declared) or '(no declared parameters)'}",
                got=", ".join(unknown),
                fix="declare it on the class, e.g. `boost = Param(80, min=0, max=255)`",
            )
        validated = {name: declared[name].validate(value) for name, value in params.items()}
        changed = {k: v for k, v in validated.items() if getattr(self, k) != v}
        for name, value in validated.items():
            setattr(self, name, value)
        return changed


async def run_processor(processor: object, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve ``processor`` as a BYOC worker until cancelled (the quickstart's ``__main__``).

    Binds 127.0.0.1 unless ``host`` says otherwise (a container passes ``"0.0.0.0"``).
    In a notebook, use :class:`byoc_lab.Worker`, which does not block the kernel.
    """
    from .worker.server import run_processor as serve

    await serve(processor, port=port, host=host)
