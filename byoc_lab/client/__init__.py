"""The gateway client: send BYOC jobs and streams through a gateway, as Livepeer clients do.

- :class:`GatewayClient`: batch jobs (:meth:`~GatewayClient.submit_job`,
  :meth:`~GatewayClient.send_frame`) and streams (:meth:`~GatewayClient.start_stream`)
  against byoc_lab's gateway or a real go-livepeer gateway, sync from a notebook cell
  or ``await``-ed through the ``a``-prefixed twins.
- :class:`StreamHandle`: publish frames, read output frames as they arrive, update
  parameters, follow data and events, stop.
- :class:`JobResult`: a batch job's answer.

Failures raise :class:`~byoc_lab.errors.JobError` (carrying the HTTP ``status`` and the
server's message) or :class:`~byoc_lab.errors.JobTimeoutError`. In a notebook cell::

    client = GatewayClient("http://127.0.0.1:8935", capability="green-tint-cpu")
    result = client.submit_job(body=bytes(640 * 480 * 3))   # result.status, .body, …
    tinted = client.send_frame(image)                         # an RGB array back
    with client.start_stream(params={"boost": 40}) as stream:
        stream.publish(SyntheticSource(count=90))             # runs in the background
        for frame in stream.frames():                         # as the frames arrive
            ...
    client.close()

Each method has an ``a``-prefixed twin for ``await`` (``await client.asubmit_job(...)``).
"""

from __future__ import annotations

from byoc_lab.client.calls import JobResult
from byoc_lab.client.feeds import DATA_QUEUE, EVENTS_QUEUE, FRAME_QUEUE
from byoc_lab.client.gateway_client import GatewayClient
from byoc_lab.client.stream import StreamHandle
from byoc_lab.errors import JobError, JobTimeoutError

__all__ = [
    "DATA_QUEUE",
    "EVENTS_QUEUE",
    "FRAME_QUEUE",
    "GatewayClient",
    "JobError",
    "JobResult",
    "JobTimeoutError",
    "StreamHandle",
]
