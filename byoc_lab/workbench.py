"""The notebook's processor under development: preview, edits, parameters, serving, jobs.

A :class:`Workbench` is the core object behind ``byoc_lab.Lab`` (widgets only call it)::

    bench = Workbench(GreenTint(), source="synthetic")
    bench.preview.play()                       # the preview engine (created, not started)
    bench.apply(edited_text)                   # compile, check, hot-swap preview + worker
    bench.update_params({"boost": 120})        # preview and the worker's live streams
    bench.serve()                              # a LocalNetwork for the processor
    outcome = bench.send_frame_job()           # one frame through the gateway
    run = bench.start_stream()                 # the preview's input as a live stream
    bench.close()

The preview and the worker never share a processor instance (a processor need not
be thread-safe, and they run concurrently): the worker gets a second instance of the
same class with the same parameter values, kept in sync by :meth:`update_params`.
A new processor is checked on a third instance (``initialize()``, one frame of the
preview's size within ``frame_timeout``, ``shutdown()``) before anything is swapped;
so a class must be creatable without arguments, as export requires anyway.

Methods are blocking but bounded, for the kernel's main thread (and widget callbacks);
they must not be called from byoc_lab's own loop thread.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .builtins import GreenTint
from .editing import SOURCE_ATTRIBUTE, compile_processor, editable_source, is_builtin
from .errors import ByocLabError, RuntimeStateError
from .listeners import Listeners
from .loader import as_processor
from .params import ParamSpec, carry_params, current_params
from .preview.engine import PreviewEngine
from .runner import ProcessorRunner
from .runtime import get_loop
from .sources import FrameSource
from .synthetic import SyntheticSource
from .workbench_jobs import JobOutcome, StreamRun
from .workbench_service import ServiceHost
from .workbench_status import ServiceStatus
from .workbench_trial import create_instance, trial_run, user_code_error

if TYPE_CHECKING:
    from .export import ExportResult
    from .frames import RGBImage
    from .network.local import LocalNetwork

__all__ = ["ApplyResult", "Workbench", "current_workbench"]

logger = logging.getLogger(__name__)

_benches: list[weakref.ref[Workbench]] = []
_benches_lock = threading.Lock()


def current_workbench() -> Workbench | None:
    """The most recently created workbench that is not closed (None if there is none)."""
    with _benches_lock:
        _benches[:] = [ref for ref in _benches if ref() is not None]
        for ref in reversed(_benches):
            bench = ref()
            if bench is not None and not bench.closed:
                return bench
    return None


@dataclass(frozen=True)
class ApplyResult:
    """What :meth:`Workbench.apply` or :meth:`Workbench.use` did.

    Attributes:
        class_name: the new processor's class.
        describe: e.g. ``GreenTint (RGB array in/out, sync)``.
        carried: parameter values carried over from the previous processor.
        swapped_into: where it now runs: ``["preview"]`` or ``["preview", "worker"]``.
    """

    class_name: str
    describe: str
    carried: dict[str, Any] = field(default_factory=dict)
    swapped_into: list[str] = field(default_factory=list)


class Workbench:
    """One processor under development, with its preview, service and jobs.

    Args:
        processor: an instance, a class, a spec such as ``"file.py:Class"``, or None
            for :class:`~byoc_lab.GreenTint`.
        source: the preview's frame source (a FrameSource or a text such as
            ``"synthetic"``; ``"auto"`` picks the webcam, else synthetic frames).
        size: ``(width, height)`` of preview frames, jobs and the worker's raw frames.
        capability: the capability name :meth:`serve` registers.
        frame_timeout: seconds one ``process()`` call may take (preview and check).
        source_text: the processor's source, when the caller has it; else found
            when first needed (see :attr:`source_text`).

    It registers itself (weakly) as the current workbench for ``%%processor``.
    """

    def __init__(
        self,
        processor: Any = None,
        *,
        source: FrameSource | str = "auto",
        size: tuple[int, int] = (640, 480),
        capability: str = "byoc_lab",
        frame_timeout: float = 5.0,
        source_text: str | None = None,
    ) -> None:
        instance = as_processor(processor) if processor is not None else GreenTint()
        self.size = size
        self.capability = capability
        self.frame_timeout = frame_timeout
        self.preview = PreviewEngine(instance, source, size=size, frame_timeout=frame_timeout)
        self._origin: Any = processor if isinstance(processor, str) else instance
        self._source_text = source_text
        self._lock = threading.RLock()
        self._listeners: Listeners[ApplyResult] = Listeners("Workbench.on_change")
        self._service = ServiceHost(capability=capability, size=size)
        self._closed = False
        with _benches_lock:
            _benches.append(weakref.ref(self))

    # -- the processor ---------------------------------------------------------------------

    @property
    def processor(self) -> Any:
        """The processor instance the preview runs now."""
        return self.preview.processor

    @property
    def source_text(self) -> str:
        """The processor's editable source text.

        The text last applied; else the text given or captured (``%%processor``);
        else its file (or notebook cells); for byoc_lab's built-ins a self-contained
        module defining an equivalent class.
        """
        with self._lock:
            if self._source_text is None:
                spec = self._origin if isinstance(self._origin, str) else None
                self._source_text = editable_source(self.processor, spec=spec)
            return self._source_text

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def param_specs(self) -> list[ParamSpec]:
        """The processor's declared parameters, in declaration order."""
        schema = getattr(self.processor, "param_schema", None)
        return list(schema()) if callable(schema) else []

    def params(self) -> dict[str, Any]:
        """The preview processor's current parameter values."""
        return current_params(self.processor)

    def on_change(self, callback: Callable[[ApplyResult], None]) -> Callable[[], None]:
        """Call ``callback(result)`` after every processor swap (apply, use, the magic).

        It runs on the thread that swapped, after the swap; one that raises is logged.
        Returns a function that unsubscribes.
        """
        return self._listeners.add(callback)

    def apply(self, text: str) -> ApplyResult:
        """Compile ``text``, check it on one frame and hot-swap it everywhere.

        Raises:
            ProcessorSourceError: the text does not compile, raises while loading,
                defines no or several processor classes, or its ``initialize()`` or
                ``process()`` raised on the test frame (``line`` says where).
            ContractError: the class breaks the contract, cannot be created without
                arguments, or ``process()`` did not return within ``frame_timeout``.
            FrameContractError: ``process()`` returned something that is not a frame.

        On any failure the previous processor keeps running in preview and worker.
        """
        with self._lock:
            self._check_open()
            prefer = type(self.processor).__name__
            compiled = compile_processor(text, label="editor", prefer=prefer)
            result = self._install(create_instance(compiled.cls), text)
        self._listeners.notify(result)
        return result

    def use(self, processor: Any, *, source_text: str | None = None) -> ApplyResult:
        """Like :meth:`apply` for a processor object (instance, class or spec).

        ``source_text`` is its source when the caller has it (the magic does); it is
        recorded on the class for export. Raises as :meth:`apply`.
        """
        with self._lock:
            self._check_open()
            instance = as_processor(processor)
            cls = type(instance)
            if source_text is not None and not is_builtin(cls):
                setattr(cls, SOURCE_ATTRIBUTE, source_text)
            text = source_text if source_text is not None else editable_source(instance)
            result = self._install(instance, text)
        self._listeners.notify(result)
        return result

    def _install(self, instance: Any, text: str) -> ApplyResult:
        """Check ``instance``, then swap it into the preview and the worker."""
        old = self.processor
        name = type(instance).__name__
        carry_params(old, instance)
        describe = ProcessorRunner(instance).describe()
        get_loop().run(trial_run(_clone(instance), self.size, self.frame_timeout))
        try:
            carried = self.preview.swap(instance)
        except ByocLabError:
            raise
        except Exception as exc:  # its initialize() is user code: typed, with its line
            raise user_code_error(exc, f"{name}.initialize()") from exc
        swapped = ["preview"]
        try:
            if self._service.swap(_clone(instance)):
                swapped.append("worker")
        except Exception as exc:  # the worker's initialize() is user code
            self._roll_back_preview(old)
            error = user_code_error(exc, f"{name}.initialize() in the worker")
            self._service.events.add("error", str(error))
            raise error from exc
        self._source_text = text
        self._origin = instance
        self._service.events.add("swapped", f"{describe} into the {' and the '.join(swapped)}")
        return ApplyResult(name, describe, dict(carried), swapped)

    def _roll_back_preview(self, old: Any) -> None:
        """Put a fresh instance of the previous processor back into the preview."""
        try:
            self.preview.swap(_clone(old))
        except Exception as exc:  # noqa: BLE001 - best effort after a failure already reported
            logger.error("could not put %s back into the preview: %s", type(old).__name__, exc)

    def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Apply parameter values to the preview, then the worker's live streams.

        The worker gets them the way ``POST /stream/params`` delivers them (each live
        stream; the processor itself when none runs). Returns the values that changed.

        Raises:
            ParamError: unknown, mistyped or out of bounds; nothing is applied.
        """
        with self._lock:
            self._check_open()
            changed = self.preview.update_params(params)
            self._service.update_params(params)
            self._service.events.add("params", ", ".join(f"{k}={v!r}" for k, v in params.items()))
            return dict(changed)

    # -- serving ---------------------------------------------------------------------------

    @property
    def network(self) -> LocalNetwork | None:
        """The running :class:`~byoc_lab.LocalNetwork`, or None when not serving."""
        return self._service.network

    def serve(self, *, capacity: int = 1) -> LocalNetwork:
        """Start a LocalNetwork (worker, orchestrator, gateway) for the processor.

        The worker runs its own instance of the processor's class with the preview's
        parameter values. Returns the running network (the same one if already up).

        Raises:
            RuntimeStateError: the workbench is closed.
            ContractError: the class cannot be created without arguments.
            RegistrationError, OSError, TimeoutError: the network did not start.
        """
        with self._lock:
            self._check_open()
            running = self._service.network
            if running is not None:
                return running
            return self._service.serve(_clone(self.processor), capacity=capacity)

    def stop_serving(self) -> None:
        """Stop the stream run and the network (idempotent)."""
        with self._lock:
            self._service.stop()

    def service_status(self) -> ServiceStatus:
        """The network's state, URLs, health, recent events and routing log."""
        return self._service.status(ProcessorRunner(self.processor).describe())

    # -- jobs ------------------------------------------------------------------------------

    def send_frame_job(self, frame: RGBImage | None = None) -> JobOutcome:
        """Send one frame through the gateway as a batch job and wait for the answer.

        ``frame`` defaults to the preview's latest input, else a synthetic frame; it
        must be RGB of the workbench's size.

        Raises:
            RuntimeStateError: not serving, or closed (nothing was sent).
            FrameError: ``frame`` is not RGB uint8 of the workbench's size.

        Once sent, failures come back in :attr:`JobOutcome.error` with the HTTP
        ``status`` (0: no answer), never raised; see :mod:`byoc_lab.workbench_jobs`.
        """
        self._check_open()
        self._service.require("send a frame job")
        if frame is None:
            latest = self.preview.latest()
            width, height = self.size
            if latest is not None:
                frame = latest.input
            else:
                frame = SyntheticSource(width=width, height=height).render(0)
        return self._service.send_frame_job(frame)

    def start_stream(self, params: Mapping[str, Any] | None = None) -> StreamRun:
        """Start a live stream fed by the preview's input frames (replacing a running one).

        Frames flow while the preview plays; output frames collect in the returned
        :class:`~byoc_lab.workbench_jobs.StreamRun`. ``params`` are the stream's start
        parameters (``width``/``height``, ``max_framerate``, processor parameters);
        they reach the worker only: tune the processor with :meth:`update_params`,
        which keeps preview and worker in step.

        Raises:
            RuntimeStateError: not serving, or closed.
            JobError: the gateway refused the stream.
        """
        with self._lock:
            self._check_open()
            return self._service.start_stream(self.preview, params)

    @property
    def stream(self) -> StreamRun | None:
        """The stream run started by :meth:`start_stream`, until stopped."""
        return self._service.stream

    def stop_stream(self) -> None:
        """Stop the running stream run, if any (idempotent)."""
        with self._lock:
            self._service.stop_stream()

    # -- export and lifetime ------------------------------------------------------------------

    def export(self, dest: str | os.PathLike[str], **kwargs: Any) -> ExportResult:
        """``byoc_lab.export`` of the current processor with :attr:`source_text`."""
        from .export import export

        kwargs.setdefault("capability", self.capability)
        return export(self.processor, dest, source=self.source_text, **kwargs)

    def close(self) -> None:
        """Stop the stream, the network and the preview (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.stop_serving()
            finally:
                self.preview.stop()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        serving = self._service.network is not None
        state = "closed" if self._closed else "serving" if serving else "not serving"
        return f"<Workbench {type(self.processor).__name__} {state}>"

    # -- helpers -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeStateError("this workbench is closed", fix="create a new Workbench")


def _clone(processor: Any) -> Any:
    """A new instance of ``processor``'s class with the same parameter values.

    Raises:
        ContractError: the class cannot be created without arguments.
    """
    twin = create_instance(type(processor))
    carry_params(processor, twin)
    return twin
