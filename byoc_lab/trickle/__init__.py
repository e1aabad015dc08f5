"""Trickle: go-livepeer's segment-streaming protocol over HTTP, server and clients.

- :class:`TrickleServer` hosts channels (standalone app, or routes under ``/ai/trickle/``
  in an orchestrator's app).
- :class:`TricklePublisher` streams segments into a channel, preconnecting the next one.
- :class:`TrickleSubscriber` follows a channel and yields each segment's bytes as they
  arrive.
- :mod:`byoc_lab.trickle.wire` names every header, status and sentinel of the protocol.
- :mod:`byoc_lab.trickle.faults` (a :class:`~byoc_lab.trickle.faults.FaultPlan` a server
  consults: dropped connections, late and lost segments) and
  :class:`~byoc_lab.trickle.host.TrickleHost` (a standalone server that can crash and
  come back) reproduce a flaky network in tests; they are off unless set.

Clients take an :class:`aiohttp.ClientSession` from the caller; :func:`make_session`
builds one (TLS verification on unless ``verify_tls=False``).
"""

from __future__ import annotations

from .channel import ChannelInfo
from .client import RetryPolicy, make_session
from .publisher import SegmentWriter, TricklePublisher
from .server import TRICKLE_SERVER_KEY, TrickleServer, TrickleServerConfig
from .subscriber import TrickleSegment, TrickleSubscriber
from .wire import SEQ_CURRENT, SEQ_NEXT, channel_url, is_valid_channel_name, segment_url

__all__ = [
    "SEQ_CURRENT",
    "SEQ_NEXT",
    "TRICKLE_SERVER_KEY",
    "ChannelInfo",
    "RetryPolicy",
    "SegmentWriter",
    "TricklePublisher",
    "TrickleSegment",
    "TrickleServer",
    "TrickleServerConfig",
    "TrickleSubscriber",
    "channel_url",
    "is_valid_channel_name",
    "make_session",
    "segment_url",
]
