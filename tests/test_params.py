from __future__ import annotations

import pytest

from byoc_lab import FrameProcessor, GreenTint, Param, ParamError
from byoc_lab.frames import RGBImage


class Tunable(FrameProcessor):
    boost = Param(80, min=0, max=255, help="green boost")
    gain = Param(1.5, min=0.0, max=4.0)
    enabled = Param(True)
    mode = Param("fast", choices=["fast", "pretty"])
    label = Param("hello")

    def process(self, frame: RGBImage) -> RGBImage:
        return frame


def test_schema_lists_every_declared_param_in_order_with_bounds() -> None:
    rows = [spec.to_json() for spec in Tunable.param_schema()]
    assert rows == [
        {"name": "boost", "type": "int", "default": 80, "min": 0, "max": 255}
        | {"help": "green boost"},
        {"name": "gain", "type": "float", "default": 1.5, "min": 0.0, "max": 4.0},
        {"name": "enabled", "type": "bool", "default": True},
        {"name": "mode", "type": "choice", "default": "fast", "choices": ["fast", "pretty"]},
        {"name": "label", "type": "str", "default": "hello"},
    ]


def test_instances_start_at_defaults_and_keep_their_own_values() -> None:
    a, b = Tunable(), Tunable(boost=10)
    assert a.boost == 80
    assert b.boost == 10
    assert a.get_params() == {
        "boost": 80,
        "gain": 1.5,
        "enabled": True,
        "mode": "fast",
        "label": "hello",
    }


def test_update_converts_http_style_values_and_reports_changes() -> None:
    p = Tunable()
    changed = p.update_params({"boost": "120", "gain": 2, "enabled": "false", "mode": "fast"})
    assert changed == {"boost": 120, "gain": 2.0, "enabled": False}
    assert isinstance(p.gain, float)
    assert p.boost == 120
    assert p.update_params({"boost": 120.0}) == {}


@pytest.mark.parametrize(
    ("update", "words"),
    [
        ({"boost": 300}, "between 0 and 255"),
        ({"boost": -1}, "between 0 and 255"),
        ({"boost": 1.5}, "a whole number"),
        ({"boost": "lots"}, "a whole number"),
        ({"boost": True}, "a whole number"),
        ({"gain": float("nan")}, "a number"),
        ({"enabled": "maybe"}, "true or false"),
        ({"mode": "slow"}, "'fast' | 'pretty'"),
        ({"volume": 3}, "has no parameter 'volume'"),
    ],
)
def test_bad_values_are_rejected_with_what_was_expected(
    update: dict[str, object], words: str
) -> None:
    p = Tunable()
    with pytest.raises(ParamError) as info:
        p.update_params(update)
    assert words in str(info.value)
    assert p.get_params()["boost"] == 80


def test_update_is_all_or_nothing() -> None:
    p = GreenTint()
    with pytest.raises(ParamError):
        p.update_params({"boost": 100, "nope": 1})
    assert p.boost == 80


def test_direct_assignment_is_validated_too() -> None:
    p = GreenTint()
    with pytest.raises(ParamError, match="out of bounds"):
        p.boost = 999
    p.boost = 12
    assert p.boost == 12


def test_declaration_errors_are_caught_at_class_creation() -> None:
    with pytest.raises(ParamError, match="inverted"):
        Param(5, min=10, max=0)
    with pytest.raises(ParamError, match="bool, int, float or str"):
        Param([1, 2])
    with pytest.raises(ParamError, match="out of bounds"):
        Param(500, min=0, max=255)
