"""The Livepeer header, JobToken and the validators, by go-livepeer's decoding rules."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from byoc_lab.errors import ParamError, RequestError
from byoc_lab.network import (
    DUMMY_SIG,
    JobParameters,
    JobRequest,
    JobSender,
    JobToken,
    OrchestratorFilter,
    build_job_header,
    parse_job_header,
)
from byoc_lab.network.gateway_discovery import parse_go_duration
from byoc_lab.network.gojson import dumps
from byoc_lab.network.livepeer_header import decode_signature
from byoc_lab.network.wire import check_capability, check_stream_id, check_worker_path


def b64(document: Any) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    return base64.b64encode(text.encode()).decode()


GOOD = {"request": "{}", "parameters": "{}", "capability": "green", "timeout_seconds": 30}

# (header value, the field the 400 must name, a phrase of the message)
BAD_HEADERS: list[tuple[str | None, str, str]] = [
    (None, "Livepeer", "missing"),
    ("not base64!!", "Livepeer", "base64"),
    (b64(GOOD).rstrip("="), "Livepeer", "base64"),  # Go's StdEncoding needs the padding
    (b64(GOOD).replace("+", "-").replace("/", "_") + "-_", "Livepeer", "base64"),
    (b64("not json"), "Livepeer", "not valid JSON"),
    (b64(""), "Livepeer", "not valid JSON"),
    (b64('{"timeout_seconds": NaN}'), "Livepeer", "not valid JSON"),
    (b64([GOOD]), "Livepeer", "JSON object"),
    (b64('"a string"'), "Livepeer", "JSON object"),
    (b64("null"), "timeout_seconds", "timeout_seconds is required"),
    (b64({"capability": "green"}), "timeout_seconds", "timeout_seconds is required"),
    (b64({**GOOD, "timeout_seconds": 0}), "timeout_seconds", "timeout_seconds is required"),
    (b64({**GOOD, "timeout_seconds": -5}), "timeout_seconds", "positive"),
    (b64({**GOOD, "timeout_seconds": "30"}), "timeout_seconds", "wrong type"),
    (b64({**GOOD, "timeout_seconds": 30.0}), "timeout_seconds", "wrong type"),
    (b64('{"timeout_seconds": 3e1}'), "timeout_seconds", "wrong type"),
    (b64({**GOOD, "timeout_seconds": True}), "timeout_seconds", "wrong type"),
    (b64({**GOOD, "timeout_seconds": 2**63}), "timeout_seconds", "int64"),
    (b64({**GOOD, "request": {}}), "request", "wrong type"),
    (b64({**GOOD, "parameters": 5}), "parameters", "wrong type"),
    (b64({**GOOD, "capability": 7}), "capability", "wrong type"),
    (b64({**GOOD, "OrchSearchTimeout": "1s"}), "orchsearchtimeout", "wrong type"),
]


@pytest.mark.parametrize(("value", "field", "phrase"), BAD_HEADERS)
def test_bad_headers_are_400_naming_the_field(value: str | None, field: str, phrase: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_job_header(value)
    assert caught.value.status == 400
    assert caught.value.field == field
    assert phrase in str(caught.value)


def test_go_decoding_quirks_are_honoured() -> None:
    # Keys match case-insensitively, null leaves the zero value, unknown keys are
    # ignored, line breaks inside the base64 are skipped, last duplicate wins.
    raw = (
        '{"Timeout_Seconds": 10, "CAPABILITY": "green", "request": "{}", "sig": null,'
        ' "parameters": "{}", "extra": [1, 2], "capability": "tint"}'
    )
    encoded = b64(raw)
    wrapped = encoded[:10] + "\r\n" + encoded[10:]
    job = parse_job_header(wrapped)
    assert job == JobRequest(capability="tint", timeout_seconds=10, request="{}", parameters="{}")


def test_request_and_parameters_are_decoded_by_their_own_rules() -> None:
    job = parse_job_header(b64({"capability": "green", "timeout_seconds": 5}))
    assert (job.request, job.parameters) == ("", "")
    with pytest.raises(RequestError) as caught:
        job.stream_id()
    assert caught.value.field == "request"
    assert "unexpected end of JSON input" in str(caught.value)
    with pytest.raises(RequestError) as caught:
        job.job_parameters()
    assert caught.value.field == "parameters"


BAD_PARAMETERS = [
    ("[]", "parameters"),
    ("{", "parameters"),
    ('{"enable_video_ingress": "yes"}', "enable_video_ingress"),
    ('{"orchestrators": []}', "orchestrators"),
    ('{"orchestrators": {"include": "http://o"}}', "include"),
    ('{"orchestrators": {"exclude": [1]}}', "exclude"),
]


@pytest.mark.parametrize(("text", "field"), BAD_PARAMETERS)
def test_bad_parameters_name_the_field(text: str, field: str) -> None:
    with pytest.raises(RequestError) as caught:
        JobParameters.parse(text)
    assert caught.value.field == field


def test_parameters_decode_and_encode_like_go() -> None:
    text = (
        '{"orchestrators": {"include": ["http://a", null], "exclude": null},'
        ' "Enable_Data_Output": true, "enable_video_egress": null}'
    )
    params = JobParameters.parse(text)
    assert params == JobParameters(
        orchestrators=OrchestratorFilter(include=("http://a", "")), enable_data_output=True
    )
    assert JobParameters.parse("null") == JobParameters()
    assert (
        params.to_json()
        == '{"orchestrators":{"include":["http://a",""]},"enable_data_output":true}'
    )
    assert JobParameters().to_json() == '{"orchestrators":{}}'
    assert OrchestratorFilter(exclude=("http://a",)).allows("http://b")
    assert not OrchestratorFilter(include=("http://a",)).allows("http://b")


def test_built_header_is_what_a_go_gateway_accepts() -> None:
    header = build_job_header(
        "green-tint",
        timeout_seconds=12,
        parameters=JobParameters(enable_video_ingress=True),
        stream_id="abc",
    )
    document = base64.b64decode(header, validate=True).decode()
    assert document == (
        '{"id":"","request":"{\\"stream_id\\":\\"abc\\"}",'
        '"parameters":"{\\"orchestrators\\":{},\\"enable_video_ingress\\":true}",'
        '"capability":"green-tint","capability_url":"","sender":"","sig":"","timeout_seconds":12}'
    )
    job = parse_job_header(header)
    assert job.stream_id() == "abc"
    assert job.job_parameters().enable_video_ingress
    plain = json.loads(base64.b64decode(build_job_header("x")))
    assert (plain["request"], plain["parameters"], plain["timeout_seconds"]) == ("{}", "{}", 30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capability": ""},
        {"capability": "x", "timeout_seconds": 0},
        {"capability": "x", "timeout_seconds": "30"},
        {"capability": "x", "request": "[]"},
        {"capability": "x", "parameters": "{"},
    ],
)
def test_builder_refuses_what_the_gateway_would_refuse(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParamError):
        build_job_header(**kwargs)


def test_offchain_signature() -> None:
    # go-livepeer strips "0x" only from signatures longer than 130 characters.
    assert len(DUMMY_SIG) > 130
    assert decode_signature(DUMMY_SIG) == bytes(65)
    assert decode_signature("0x") == b""  # what a go-livepeer offchain gateway sends
    assert decode_signature("") == b""
    assert decode_signature("0XAbCd") == b"\xab\xcd"
    for bad in ("0xzz", "abc", "00 11", "0x0"):
        with pytest.raises(RequestError) as caught:
            decode_signature(bad)
        assert "Could not verify job creds" in str(caught.value)
    signed = JobRequest(capability="x", timeout_seconds=1).signed()
    assert signed.sig == DUMMY_SIG
    assert signed.sender == "0x" + "0" * 40


def test_job_sender_header() -> None:
    sender = JobSender()
    assert json.loads(base64.b64decode(sender.encode())) == {"addr": sender.addr, "sig": DUMMY_SIG}
    assert JobSender.parse(sender.encode()) == sender
    for bad in ("%%%", b64({"addr": "0x1", "sig": "0xq"}), b64([])):
        with pytest.raises(RequestError):
            JobSender.parse(bad)


def test_job_token_json_is_go_livepeer_s() -> None:
    token = JobToken(service_addr="http://o:1", available_capacity=2, sender=JobSender())
    assert token.to_json() == (
        f'{{"sender_address":{{"addr":"0x{"0" * 40}","sig":"{DUMMY_SIG}"}},'
        '"price":{"pixelsPerUnit":1},"service_addr":"http://o:1","available_capacity":2,'
        '"LastNonce":0}\n'
    )
    full = JobToken(service_addr="http://o:1")
    assert "available_capacity" not in json.loads(full.to_json())  # omitempty when full
    assert JobToken.parse(token.to_json().encode()) == JobToken(
        service_addr="http://o:1", available_capacity=2
    )
    with pytest.raises(RequestError) as caught:
        JobToken.parse(b"<html>")
    assert caught.value.status == 502


def test_go_json_encoding() -> None:
    assert dumps({"b": 1.0, "a": "<&>\u2028"}, sort_keys=True) == (
        '{"a":"\\u003c\\u0026\\u003e\\u2028","b":1}'
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("abc", True),
        ("stream-1.a_b", True),
        ("a" * 120, True),
        ("a" * 121, False),
        ("", False),
        ("../etc", False),
        ("a..b", False),
        ("a/b", False),
        ("a\x00b", False),
        ("-lead", False),
        ("a b", False),
        ("é", False),
    ],
)
def test_stream_ids(value: str, ok: bool) -> None:
    if ok:
        assert check_stream_id(value) == value
    else:
        with pytest.raises(RequestError) as caught:
            check_stream_id(value)
        assert caught.value.field == "stream_id"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("green-tint-cpu", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("../x", False),
        ("a%2Fb", False),
        ("a\x00", False),
        ("a b", False),
    ],
)
def test_capability_names(value: str, ok: bool) -> None:
    if ok:
        assert check_capability(value) == value
    else:
        with pytest.raises(RequestError):
            check_capability(value)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("", True),
        ("reverse-text", True),
        ("v1/chat/completions", True),
        ("a%20b", True),
        ("..", False),
        ("a/../b", False),
        ("./a", False),
        ("..%2F..%2Fetc", False),
        ("a%2fb", False),
        ("%2e%2e/x", False),
        ("a%00", False),
        ("a%5Cb", False),
        ("a//b", False),
        ("a\\b", False),
        ("x" * 1025, False),
    ],
)
def test_worker_paths(raw: str, ok: bool) -> None:
    if ok:
        assert check_worker_path(raw) == raw
    else:
        with pytest.raises(RequestError) as caught:
            check_worker_path(raw)
        assert caught.value.field == "path"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("2us", 2e-6),
        ("0", 0.0),
        ("+3s", 3.0),
        ("-1s", None),
        ("1", None),
        ("s", None),
        ("1x", None),
        ("", None),
        (".s", None),
    ],
)
def test_go_durations(text: str, seconds: float | None) -> None:
    result = parse_go_duration(text)
    if seconds is None:
        assert result is None
    else:
        assert result == pytest.approx(seconds)
