"""Property tests of the parameter parsers: ``Param``, ``ParamSpec`` and the stream params.

Promise: any JSON-ish value given to a declared parameter, and any JSON object given
as stream parameters, gives a valid result or a :class:`ParamError` /
:class:`RequestError` with a message, never another exception (no OverflowError on
huge integers, no ValueError on Unicode digits); valid values come back unchanged.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byoc_lab.errors import ParamError, RequestError
from byoc_lab.params import Param
from byoc_lab.worker.api import RESERVED_PARAMS, split_params, validate_stream_params
from byoc_lab.worker.request import IGNORED_PARAMS, FrameShape, plan_params

from .strategies import (
    SETTINGS,
    TRICKY,
    is_finite_number,
    json_objects,
    json_values,
    outcome,
    scalars,
)


@st.composite
def params(draw: st.DrawFn) -> Param[Any]:
    """A declared parameter of any kind, with bounds or choices."""
    kind = draw(st.sampled_from(["bool", "int", "float", "str", "choice"]))
    if kind == "bool":
        param: Param[Any] = Param(draw(st.booleans()))
    elif kind == "int":
        low, high = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2)))
        value = draw(st.integers(low, high))
        param = Param(value, min=_maybe(draw, low), max=_maybe(draw, high))
    elif kind == "float":
        bottom, top = sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2)))
        top = bottom if top == bottom else top  # no range from 0.0 down to -0.0
        param = Param(draw(st.floats(bottom, top)), min=_maybe(draw, bottom), max=_maybe(draw, top))
    elif kind == "str":
        param = Param(draw(st.text(max_size=10)))
    else:
        choices = draw(st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True))
        param = Param(choices[0], choices=choices)
    param.name = "p"
    return param


def _maybe(draw: st.DrawFn, bound: float) -> float | None:
    return bound if draw(st.booleans()) else None


@SETTINGS
@given(params(), st.one_of(st.sampled_from(TRICKY), scalars, json_values))
def test_any_value_validates_or_is_a_param_error(param: Param[Any], value: Any) -> None:
    result: Any = outcome(lambda: param.validate(value), ParamError)
    if isinstance(result, ParamError):
        assert "'p'" in str(result)
        assert result.expected
        return
    assert type(result).__name__ == {"choice": "str"}.get(param.kind, param.kind)
    if param.kind in ("int", "float"):
        assert is_finite_number(result)
        assert param.min is None or result >= param.min
        assert param.max is None or result <= param.max
    if param.choices is not None:
        assert result in param.choices
    assert param.validate(result) == result  # validated values stay put


@SETTINGS
@given(params(), st.data())
def test_valid_values_round_trip_through_json_and_text(param: Param[Any], data: Any) -> None:
    value = param.default if data.draw(st.booleans()) else _valid_value(param, data)
    assert param.validate(value) == value
    assert param.validate(json.loads(json.dumps(value))) == value
    if param.kind in ("int", "float"):
        assert param.validate(repr(value)) == value  # "80" as HTTP clients send it
    if param.kind == "bool":
        assert param.validate(str(value).lower()) is value


def _valid_value(param: Param[Any], data: Any) -> Any:
    if param.kind == "bool":
        return data.draw(st.booleans())
    if param.choices is not None:
        return data.draw(st.sampled_from(param.choices))
    if param.kind == "str":
        return data.draw(st.text(max_size=10))
    low = param.min if param.min is not None else -1e30
    high = param.max if param.max is not None else 1e30
    if param.kind == "int":
        return data.draw(st.integers(math.ceil(low), math.floor(high)))
    return data.draw(st.floats(low, high))


@SETTINGS
@given(params())
def test_the_schema_row_is_json_and_survives_a_round_trip(param: Param[Any]) -> None:
    row = param.spec.to_json()
    assert json.loads(json.dumps(row, allow_nan=False)) == row
    assert (row["name"], row["type"]) == ("p", param.kind)
    assert param.validate(row["default"]) == param.default


stream_params = json_objects(sorted(RESERVED_PARAMS | IGNORED_PARAMS | {"boost"}))


@SETTINGS
@given(stream_params)
def test_stream_params_validate_or_name_the_field(given_params: dict[str, Any]) -> None:
    checked = outcome(lambda: validate_stream_params(given_params), RequestError)
    if isinstance(checked, RequestError):
        assert checked.status == 400
        assert checked.field in RESERVED_PARAMS
        assert checked.field in str(checked)
        return
    assert validate_stream_params(checked) == checked  # normalised values stay put
    for key in ("width", "height"):
        assert key not in checked or 1 <= checked[key] <= 8192
    assert "max_framerate" not in checked or 1 <= checked["max_framerate"] <= 60
    assert {k: v for k, v in checked.items() if k not in RESERVED_PARAMS} == {
        k: v for k, v in given_params.items() if k not in RESERVED_PARAMS
    }


@SETTINGS
@given(st.sampled_from(sorted(RESERVED_PARAMS)), st.one_of(st.sampled_from(TRICKY), scalars))
def test_any_value_of_a_reserved_param_validates_or_is_refused(key: str, value: Any) -> None:
    partner = {"width": "height", "height": "width"}.get(key)
    given_params = {key: value, **({partner: 64} if partner else {})}
    checked = outcome(lambda: validate_stream_params(given_params), RequestError)
    if isinstance(checked, RequestError):
        assert checked.field == key
        assert key in str(checked)
        return
    assert validate_stream_params(checked) == checked


@SETTINGS
@given(stream_params)
def test_split_params_partitions(given_params: dict[str, Any]) -> None:
    reserved, rest = split_params(given_params)
    assert reserved.keys() <= RESERVED_PARAMS
    assert not rest.keys() & RESERVED_PARAMS
    assert {**reserved, **rest} == given_params


@SETTINGS
@given(
    st.builds(FrameShape, st.none() | st.integers(1, 64), st.none() | st.integers(1, 64)),
    stream_params,
)
def test_plan_params_plans_or_is_a_param_error(shape: FrameShape, given_params: Any) -> None:
    planned = outcome(lambda: plan_params(shape, given_params), ParamError)
    if isinstance(planned, ParamError):
        assert planned.expected or planned.got
        return
    new, processor_params, checked = planned
    assert checked == validate_stream_params(given_params)
    assert not processor_params.keys() & (RESERVED_PARAMS | IGNORED_PARAMS)
    if "width" in given_params:
        assert new.size == (checked["width"], checked["height"])
    else:
        assert (new.width, new.height) == (shape.width, shape.height)
    assert new.max_framerate == checked.get("max_framerate", shape.max_framerate)


@SETTINGS
@given(st.integers(1, 60), st.integers(1, 8192), st.integers(1, 8192))
def test_reserved_values_in_any_accepted_spelling_mean_the_same(
    rate: int, width: int, height: int
) -> None:
    for spelling in (rate, str(rate), float(rate), f" {rate} "):
        checked = validate_stream_params({"max_framerate": spelling})
        assert checked["max_framerate"] == rate
    assert validate_stream_params({"width": str(width), "height": float(height)}) == {
        "width": width,
        "height": height,
    }


def test_values_that_broke_the_parsers_get_typed_answers() -> None:
    """The bugs the properties found, pinned: each is a value or a typed error now."""
    whole, number = Param(0, min=0, max=255), Param(0.5)
    whole.name = number.name = "p"
    assert Param(0).validate("9007199254740993") == 9007199254740993  # exact, not via float
    for param in (whole, number):
        with pytest.raises(ParamError, match="'p'"):
            param.validate(10**400)  # was OverflowError
    assert Param(0).validate(10**400) == 10**400  # an unbounded int takes it
    with pytest.raises(RequestError, match="max_framerate"):
        validate_stream_params({"max_framerate": "²"})  # was ValueError
    assert validate_stream_params({"max_framerate": "١٢"}) == {"max_framerate": 12}
