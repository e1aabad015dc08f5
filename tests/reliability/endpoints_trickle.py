"""Bad requests for every trickle route: the standalone server's and the orchestrator's.

The same handlers serve both (``byoc_lab/trickle/handlers.py``): the standalone server
at ``/`` creates channels on first publish (``autocreate``, as http-trickle's), the
orchestrator's at ``/ai/trickle/`` does not (channels are its streams').
"""

from __future__ import annotations

from .endpoints import LIMIT, PATHLIKE_SEGMENTS, Case, Endpoint, Service, huge

_CHANNEL = "Invalid channel name"
_SEQ = "Invalid segment number"
_BAD_SEQS = ("abc", "1e3", "+1", "%201", "99999999999999999999", "0x10")


def _names(template: str, *, method_body: bytes = b"") -> list[Case]:
    return [
        Case(
            f"channel {s[:20]!r}",
            400,
            (_CHANNEL, "letters, digits"),
            path=template.format(channel=s),
            body=method_body,
        )
        for s in PATHLIKE_SEGMENTS
    ]


def _seqs(template: str, lowest: int) -> list[Case]:
    seqs = (*_BAD_SEQS, str(lowest - 1))
    return [
        Case(f"segment {q!r}", 400, (_SEQ, f"at least {lowest}"), path=template.format(seq=q))
        for q in seqs
    ]


def trickle_endpoints(service: Service, base: str) -> list[Endpoint]:
    """The six trickle routes under ``base`` (``/`` or ``/ai/trickle/``)."""
    autocreate = service == "trickle"
    chan = base + "{channel}"
    seg = base + "chan/{seq}"
    missing = "Channel nochan does not exist"
    unknown = [Case("a channel that does not exist", 404, (missing,), path=base + "nochan/0")]
    post_unknown = (
        []
        if autocreate
        else [
            Case(
                "a channel that does not exist", 404, (missing,), path=base + "nochan/0", body=b"x"
            )
        ]
    )
    post_big = [
        huge(f"limit of {LIMIT} bytes", path=base + "chan/0", setup="channel"),
        huge("exceeded the limit", path=base + "chan/1", setup="channel", chunked=True),
    ]
    return [
        Endpoint(
            service,
            "POST",
            base + "{channel}",
            base + "chan",
            tuple(
                _names(chan)
                + (
                    []
                    if autocreate
                    else [
                        Case("a channel that does not exist", 404, (missing,), path=base + "nochan")
                    ]
                )
            ),
        ),
        Endpoint(
            service,
            "DELETE",
            base + "{channel}",
            base + "chan",
            tuple(
                [
                    *_names(chan),
                    Case("a channel that does not exist", 400, (missing,), path=base + "nochan"),
                ]
            ),
        ),
        Endpoint(
            service,
            "GET",
            base + "{channel}/next",
            base + "chan/next",
            tuple(
                [
                    *_names(chan + "/next"),
                    Case(
                        "a channel that does not exist", 404, (missing,), path=base + "nochan/next"
                    ),
                ]
            ),
        ),
        Endpoint(
            service,
            "GET",
            base + "{channel}/{seq}",
            base + "chan/0",
            tuple(_names(chan + "/0") + _seqs(seg, -2) + unknown),
            setup="channel",
        ),
        Endpoint(
            service,
            "POST",
            base + "{channel}/{seq}",
            base + "chan/0",
            tuple(_names(chan + "/0", method_body=b"x") + _seqs(seg, -1) + post_unknown + post_big),
            setup="channel",
        ),
        Endpoint(
            service,
            "DELETE",
            base + "{channel}/{seq}",
            base + "chan/0",
            tuple(
                _names(chan + "/0")
                + _seqs(seg, 0)
                + [
                    Case(
                        "a channel that does not exist",
                        404,
                        ("Channel does not exist",),
                        path=base + "nochan/0",
                    )
                ]
            ),
            setup="channel",
        ),
    ]
