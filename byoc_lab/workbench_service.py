"""A workbench's service: the LocalNetwork serving its processor, and jobs through it.

:class:`ServiceHost` owns at most one running :class:`~byoc_lab.LocalNetwork` and at
most one :class:`~byoc_lab.workbench_jobs.StreamRun`, and records what happens to them
in a bounded :class:`~byoc_lab.workbench_status.EventLog`. The
:class:`~byoc_lab.workbench.Workbench` decides *what* runs (it clones processors and
serialises calls); this module knows how to serve it and send it work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import RuntimeStateError
from .workbench_jobs import JobOutcome, StreamRun, check_job_frame, run_frame_job
from .workbench_status import EventLog, ServiceStatus

if TYPE_CHECKING:
    from .frames import RGBImage
    from .network.local import LocalNetwork
    from .preview.engine import PreviewEngine

__all__ = ["ServiceHost"]

logger = logging.getLogger(__name__)

_TAIL = 50  # events and routing-log lines a status carries


class ServiceHost:
    """The network and stream run of one workbench; call it from one thread at a time.

    Args:
        capability: the capability name the worker registers.
        size: ``(width, height)`` of the worker's raw frames and of job frames.
    """

    def __init__(self, *, capability: str, size: tuple[int, int]) -> None:
        self.capability = capability
        self.size = size
        self.events = EventLog()
        self._network: LocalNetwork | None = None
        self._stream: StreamRun | None = None
        self._error: str | None = None

    @property
    def network(self) -> LocalNetwork | None:
        """The running network, or None (also once it stopped behind our back)."""
        network = self._network
        return network if network is not None and network.running else None

    @property
    def stream(self) -> StreamRun | None:
        """The stream run, until stopped."""
        return self._stream

    def require(self, doing: str) -> LocalNetwork:
        """The running network, or RuntimeStateError saying ``doing`` needs one."""
        network = self.network
        if network is None:
            raise RuntimeStateError(
                f"not serving: cannot {doing}",
                fix="call serve() first (the Serve panel's Start button)",
            )
        return network

    def serve(self, processor: Any, *, capacity: int) -> LocalNetwork:
        """Start a network for ``processor`` (an instance the worker owns); or the running one."""
        running = self.network
        if running is not None:
            return running
        from .network.local import LocalNetwork

        network = LocalNetwork(
            processor, capability=self.capability, capacity=capacity, frame_size=self.size
        )
        try:
            network.start()
        except BaseException as exc:
            self._error = f"serving failed: {exc}"
            self.events.add("error", self._error)
            raise
        self._network, self._error = network, None
        self.events.add("started", f"gateway {network.gateway_url} ({self.capability!r})")
        return network

    def stop(self) -> None:
        """Stop the stream run, then the network (idempotent)."""
        self.stop_stream()
        network, self._network = self._network, None
        if network is not None:
            network.stop()
            self.events.add("stopped", "the local network stopped")

    def swap(self, processor: Any) -> bool:
        """Swap ``processor`` into the running worker; False when not serving.

        Raises:
            Exception: whatever the worker's swap raised (its old processor stays).
        """
        network = self.network
        if network is None:
            return False
        network.swap(processor)
        return True

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Apply ``params`` to the worker's live streams (or processor) if serving."""
        network = self.network
        if network is None:
            return
        try:
            network.update_params(params)
        except RuntimeStateError:  # it stopped meanwhile: nothing to update there
            logger.info("the network stopped before its parameters were updated")

    def status(self, processor: str) -> ServiceStatus:
        """A snapshot; ``processor`` describes what would be served when not serving."""
        network = self.network
        events = self.events.tail(_TAIL)
        if network is None:
            return ServiceStatus(False, "STOPPED", {}, self._error, processor, events=events)
        status = network.status()
        urls = _urls(network)
        health, error = str(status.get("status", "ERROR")), status.get("error_message")
        if "worker" not in urls:
            health, error = "ERROR", "the worker is not running (the gateway still is)"
        return ServiceStatus(
            running=True,
            health=health,
            urls=urls,
            error=error or self._error,
            processor=str(status.get("processor", "")),
            streams=int(status.get("active_streams", 0)),
            events=events,
            log=tuple(network.routing_log()[-_TAIL:]),
        )

    def send_frame_job(self, frame: RGBImage) -> JobOutcome:
        """Send ``frame`` as a batch job (see :mod:`byoc_lab.workbench_jobs` for errors)."""
        network = self.require("send a frame job")
        image = check_job_frame(frame, self.size)
        outcome = run_frame_job(network.client, image, self.capability)
        summary = f"HTTP {outcome.status} in {outcome.elapsed_ms:.1f} ms"
        self.events.add("job", summary + (f": {outcome.error}" if outcome.error else ""))
        return outcome

    def start_stream(self, preview: PreviewEngine, params: Mapping[str, Any] | None) -> StreamRun:
        """Start a stream fed by ``preview``'s inputs, stopping a running one first."""
        network = self.require("start a stream")
        self.stop_stream()
        handle = network.client.start_stream(params=params)
        run = StreamRun(handle, preview)
        try:
            run.start()
        except BaseException:
            handle.stop()
            raise
        self._stream = run
        self.events.add("stream", f"stream {run.stream_id} started")
        return run

    def stop_stream(self) -> None:
        """Stop the stream run, if any (idempotent)."""
        run, self._stream = self._stream, None
        if run is not None:
            run.stop()
            self.events.add("stream", f"stream {run.stream_id} stopped")


def _urls(network: LocalNetwork) -> dict[str, str]:
    """The network's base URLs; a service that is down is left out."""
    urls: dict[str, str] = {}
    for name in ("gateway", "orchestrator", "worker", "trickle"):
        try:
            urls[name] = getattr(network, f"{name}_url")
        except RuntimeStateError:
            continue
    return urls
