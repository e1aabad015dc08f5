"""The local Livepeer network: an offchain orchestrator and a gateway, in pure Python.

Both speak go-livepeer's BYOC wire format (``byoc/`` at the commit in the wire doc),
so a worker, client or peer that works here works against go-livepeer:

- :class:`Orchestrator` / :class:`OrchestratorServer`: registry of worker
  capabilities, ``/process/token``, batch jobs proxied to workers, live streams on its
  own trickle server under ``/ai/trickle/``.
- :class:`Gateway` / :class:`GatewayServer`: validates the ``Livepeer`` header, finds
  orchestrators, forwards batch jobs (and the seed quickstart's
  ``/live/video-to-video``), starts streams and follows their status and data.
- :func:`build_job_header` / :func:`parse_job_header`: the ``Livepeer`` header.

Every server binds 127.0.0.1 unless told otherwise and runs inside an already running
event loop (``await server.start(port=0)``).
"""

from __future__ import annotations

from byoc_lab.network.gateway import Gateway, GatewayConfig, GatewayServer
from byoc_lab.network.gateway_discovery import Discovery, Offer
from byoc_lab.network.gateway_streams import StreamView
from byoc_lab.network.livepeer_header import (
    DUMMY_SIG,
    LIVEPEER_HEADER,
    ZERO_ADDRESS,
    JobParameters,
    JobRequest,
    JobSender,
    OrchestratorFilter,
    build_job_header,
    parse_job_header,
)
from byoc_lab.network.orchestrator import Orchestrator, OrchestratorConfig, OrchestratorServer
from byoc_lab.network.orchestrator_registry import Capability, CapabilityInfo
from byoc_lab.network.orchestrator_secret import load_secret
from byoc_lab.network.orchestrator_streams import StreamInfo
from byoc_lab.network.routing_log import RoutingEntry, RoutingLog
from byoc_lab.network.wire import JobToken, StreamChannels

__all__ = [
    "DUMMY_SIG",
    "LIVEPEER_HEADER",
    "ZERO_ADDRESS",
    "Capability",
    "CapabilityInfo",
    "Discovery",
    "Gateway",
    "GatewayConfig",
    "GatewayServer",
    "JobParameters",
    "JobRequest",
    "JobSender",
    "JobToken",
    "Offer",
    "Orchestrator",
    "OrchestratorConfig",
    "OrchestratorFilter",
    "OrchestratorServer",
    "RoutingEntry",
    "RoutingLog",
    "StreamChannels",
    "StreamInfo",
    "StreamView",
    "build_job_header",
    "load_secret",
    "parse_job_header",
]
