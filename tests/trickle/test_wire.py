from __future__ import annotations

import pytest

from byoc_lab.errors import ChannelNameError
from byoc_lab.trickle import wire


@pytest.mark.parametrize(
    "name", ["abc", "A1", "stream-42-out", "x.y_z", "0", "a" * wire.CHANNEL_NAME_MAX]
)
def test_valid_channel_names(name: str) -> None:
    assert wire.is_valid_channel_name(name)
    assert wire.check_channel_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "a..b",
        ".hidden",
        "_changes",
        "-x",
        "a/b",
        "a%2Fb",
        "a b",
        "é",
        "a\x00b",
        "a" * (wire.CHANNEL_NAME_MAX + 1),
    ],
)
def test_invalid_channel_names(name: str) -> None:
    assert not wire.is_valid_channel_name(name)
    with pytest.raises(ChannelNameError, match="invalid trickle channel name"):
        wire.check_channel_name(name)


def test_channel_name_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected 1-128 characters"):
        wire.check_channel_name("../etc")


@pytest.mark.parametrize(
    ("text", "seq"), [("0", 0), ("17", 17), ("-1", -1), ("-2", -2), ("007", 7)]
)
def test_parse_seq_accepts_decimal_integers(text: str, seq: int) -> None:
    assert wire.parse_seq(text) == seq


@pytest.mark.parametrize("text", [None, "", "abc", "1.5", "+1", " 1", "1_000", "0x10", "9" * 19])
def test_parse_seq_rejects_everything_else(text: str | None) -> None:
    assert wire.parse_seq(text) is None


def test_url_builders() -> None:
    assert wire.channel_url("https://o:8935/ai/trickle/", "abc-out") == (
        "https://o:8935/ai/trickle/abc-out"
    )
    assert wire.channel_url("http://h:2939", "c") == "http://h:2939/c"
    assert wire.segment_url("http://h/c", 3) == "http://h/c/3"
    assert wire.segment_url("http://h/c/", wire.SEQ_CURRENT) == "http://h/c/-2"
    with pytest.raises(ChannelNameError):
        wire.channel_url("http://h/", "../x")


@pytest.mark.parametrize(
    ("base", "prefix"),
    [("/", "/"), ("", "/"), ("/ai/trickle/", "/ai/trickle/"), ("ai/trickle", "/ai/trickle/")],
)
def test_route_prefix(base: str, prefix: str) -> None:
    assert wire.route_prefix(base) == prefix


def test_protocol_constants_match_go_livepeer() -> None:
    assert wire.STATUS_SEGMENT_NOT_FOUND == 470
    assert (wire.SEQ_NEXT, wire.SEQ_CURRENT) == (-1, -2)
    assert wire.WINDOW_SEGMENTS == 5
    assert (wire.IDLE_TIMEOUT_S, wire.SWEEP_INTERVAL_S) == (300.0, 60.0)
    assert wire.HEADER_SEQ == "Lp-Trickle-Seq"
    assert wire.HEADER_LATEST == "Lp-Trickle-Latest"
    assert wire.HEADER_CLOSED == "Lp-Trickle-Closed"
    assert wire.HEADER_RESET == "Lp-Trickle-Reset"
    assert wire.HEADER_EXPECT_CONTENT == "Expect-Content"
