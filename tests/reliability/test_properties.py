"""Property tests of the ``Livepeer`` header parser and the name validators.

Promise: whatever arrives (any text, any bytes, any JSON), the parsers return a value
or raise their typed error (:class:`RequestError`, naming the field, with a message),
never another exception; and what byoc_lab builds, it parses back unchanged. Names a
validator accepts can never leave a URL path, a header or a log line.
"""

from __future__ import annotations

import base64
import functools
import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byoc_lab.errors import ParamError, RegistrationError, RequestError
from byoc_lab.network.gateway_discovery import parse_go_duration
from byoc_lab.network.gateway_follow import GatewayStream, _apply_event
from byoc_lab.network.gateway_status import StatusStore
from byoc_lab.network.livepeer_header import (
    JobParameters,
    JobRequest,
    JobSender,
    OrchestratorFilter,
    build_job_header,
    decode_signature,
    parse_job_header,
)
from byoc_lab.network.wire import check_capability, check_stream_id, check_worker_path
from byoc_lab.trickle.wire import is_valid_channel_name, parse_seq
from byoc_lab.worker.registration import validate_capability_name

from .strategies import SETTINGS, json_objects, json_values, outcome

HEADER_FIELDS = ["id", "request", "parameters", "capability", "capability_url", "sender", "sig"]
HEADER_FIELDS += ["timeout_seconds", "orchsearchtimeout"]
NAME_CHARS = set(string.ascii_letters + string.digits + "._-")


def _parse_all(value: str | None) -> JobRequest:
    job = parse_job_header(value)
    job.stream_id()
    job.job_parameters()
    return job


def _parsed_or_refused(value: str | None) -> JobRequest | None:
    """The parsed header, or None after checking the refusal is a clear RequestError."""
    result = outcome(lambda: _parse_all(value), RequestError)
    if isinstance(result, JobRequest):
        return result
    assert_clear(result)
    assert result.status == 400
    return None


def assert_clear(error: RequestError) -> None:
    """A refusal that names the field at fault and says something about it."""
    assert error.field
    assert len(str(error)) > 15
    assert "Traceback" not in str(error)


@SETTINGS
@given(st.text())
def test_any_text_as_a_header_parses_or_is_refused_clearly(text: str) -> None:
    _parsed_or_refused(text)


@SETTINGS
@given(st.binary())
def test_any_bytes_in_base64_parse_or_are_refused_clearly(raw: bytes) -> None:
    _parsed_or_refused(base64.b64encode(raw).decode())


@SETTINGS
@given(json_objects(HEADER_FIELDS))
def test_any_json_object_in_a_header_parses_or_is_refused_clearly(fields: dict[str, Any]) -> None:
    raw = json.dumps(fields).encode()  # NaN and Infinity too: Go refuses them, so must we
    job = _parsed_or_refused(base64.b64encode(raw).decode())
    if job is not None:
        assert job.timeout_seconds > 0
        assert isinstance(job.capability, str)


texts = st.text(max_size=30)
filters = st.builds(
    OrchestratorFilter,
    include=st.lists(texts, max_size=3).map(tuple),
    exclude=st.lists(texts, max_size=3).map(tuple),
)
job_parameters = st.builds(
    JobParameters,
    orchestrators=filters,
    enable_video_ingress=st.booleans(),
    enable_video_egress=st.booleans(),
    enable_data_output=st.booleans(),
)


@SETTINGS
@given(
    st.builds(
        JobRequest,
        capability=texts,
        timeout_seconds=st.integers(1, 2**63 - 1),
        request=json_objects(["stream_id"]).map(json.dumps),
        parameters=job_parameters.map(JobParameters.to_json),
        id=texts,
        capability_url=texts,
        sender=texts,
        sig=texts,
    )
)
def test_a_built_header_parses_back_to_the_same_request(job: JobRequest) -> None:
    assert parse_job_header(job.encode()) == job
    assert JobParameters.parse(job.parameters) == job.job_parameters()


@SETTINGS
@given(job_parameters)
def test_job_parameters_round_trip(params: JobParameters) -> None:
    assert JobParameters.parse(params.to_json()) == params


@SETTINGS
@given(
    capability=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True),
    timeout=st.integers(1, 10**6),
    stream_id=texts,
    params=job_parameters,
)
def test_build_job_header_is_what_the_gateway_reads(
    capability: str, timeout: int, stream_id: str, params: JobParameters
) -> None:
    header = build_job_header(
        capability, timeout_seconds=timeout, stream_id=stream_id, parameters=params
    )
    job = parse_job_header(header)
    assert (job.capability, job.timeout_seconds) == (capability, timeout)
    assert job.stream_id() == stream_id
    assert job.job_parameters() == params
    assert check_capability(job.capability) == capability


@SETTINGS
@given(st.binary(max_size=80), st.sampled_from(["", "0x", "0X"]), st.booleans())
def test_hex_signatures_decode_to_their_bytes(raw: bytes, prefix: str, upper: bool) -> None:
    digits = raw.hex().upper() if upper else raw.hex()
    assert decode_signature(prefix + digits) == raw
    sender = JobSender(addr="0x" + "ab" * 20, sig=prefix + digits)
    assert JobSender.parse(sender.encode()) == sender


@SETTINGS
@given(st.text())
def test_any_signature_or_sender_decodes_or_is_refused_clearly(text: str) -> None:
    for call in (lambda: decode_signature(text), lambda: JobSender.parse(text)):
        result = outcome(call, RequestError)
        if isinstance(result, RequestError):
            assert_clear(result)


@SETTINGS
@given(st.binary() | json_values.map(lambda v: json.dumps(v).encode()) | st.just(b"[" * 5000))
def test_any_event_document_updates_the_status_or_is_ignored(body: bytes) -> None:
    """What a gateway reads from a stream's events channel never ends its follower."""
    stream = GatewayStream("s1", "tint", "r1", "http://o", 10, {}, None)
    store = StatusStore(linger=60)
    store.reset("s1", {"whep_url": ""})
    _apply_event(stream, store, body)
    status = store.get("s1")
    assert status is not None
    assert status.get("stream_id", "s1") == "s1"


@SETTINGS
@given(st.text())
def test_go_durations_are_a_number_of_seconds_or_none(text: str) -> None:
    seconds = parse_go_duration(text)
    assert seconds is None or seconds >= 0


def _safe_name(name: str, longest: int) -> None:
    assert 1 <= len(name) <= longest
    assert set(name) <= NAME_CHARS
    assert ".." not in name
    assert name[0] not in "._-"


names = st.one_of(
    st.text(),
    st.text(alphabet="ab./\\%0\x00\n-_", max_size=12),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,130}\n?", fullmatch=True),
)


@SETTINGS
@given(names)
def test_accepted_names_are_safe_in_urls_headers_and_logs(name: str) -> None:
    for check, longest, errors in (
        (check_capability, 64, RequestError),
        (validate_capability_name, 64, RegistrationError),
        (check_stream_id, 120, RequestError),
    ):
        result = outcome(functools.partial(check, name), errors)
        if isinstance(result, str):
            _safe_name(result, longest)
        else:
            assert "expected" in str(result)
    if is_valid_channel_name(name):
        _safe_name(name, 128)


@SETTINGS
@given(st.text(alphabet="ab.%2fF5cC0e/\\", max_size=30) | st.text())
def test_forwarded_job_paths_never_climb_out_of_the_worker(raw: str) -> None:
    path = outcome(lambda: check_worker_path(raw), RequestError)
    if isinstance(path, RequestError):
        assert path.field == "path"
        return
    segments = path.split("/")
    assert not {".", ".."} & set(segments)
    lowered = path.lower()
    assert not any(escape in lowered for escape in ("%2f", "%5c", "%00", "%2e"))
    assert "\\" not in path
    assert "\x00" not in path


@SETTINGS
@given(st.text(max_size=25) | st.integers(-(10**20), 10**20).map(str))
def test_segment_numbers_are_small_integers_or_none(text: str) -> None:
    seq = parse_seq(text)
    if seq is not None:
        assert -(10**18) < seq < 10**18
        digits = text.removeprefix("-")
        assert digits.isascii()
        assert digits.isdigit()


@pytest.mark.parametrize("name", ["tint\n", "tint\r\n", "a" * 64 + "\n"])
def test_a_trailing_newline_is_not_part_of_a_usable_name(name: str) -> None:
    with pytest.raises(RegistrationError):
        validate_capability_name(name)


def test_the_header_builder_refuses_json_nested_too_deep() -> None:
    with pytest.raises(ParamError, match="request is not valid JSON"):
        build_job_header("tint", request="[" * 5000)
    with pytest.raises(ParamError, match="parameters is not valid JSON"):
        build_job_header("tint", parameters="[" * 5000)
