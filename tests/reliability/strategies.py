"""Hypothesis strategies and settings shared by the property tests.

``SETTINGS`` keeps the suite quick and keeps no example database (``database=None``):
every run starts from fresh random examples. Hypothesis's other caches go to the
system's temporary directory, not to a ``.hypothesis`` directory in the repository.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "byoc_lab-hypothesis")
)
SETTINGS = settings(
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)

TRICKY = (
    10**400,  # JSON reads it; too large for a float
    -(10**400),
    2**63,  # just past int64
    2**53 + 1,  # not exact as a float
    "80",
    " 12 ",
    "9007199254740993",
    "1e400",
    "nan",
    "-inf",
    "²",  # a digit to str.isdigit(), not to int()
    "١٢",  # Arabic-Indic 12: int() reads it
    "true",
    "0x10",
    "",
    1e308,
    -0.0,
)
"""Values that have broken parsers: huge integers, Unicode digits, number-like text."""

scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),  # beyond float and int64
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
"""Any JSON scalar Python's json can produce, and strings that look like numbers."""

json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
"""Any JSON value (plus NaN and infinities, which Python's json reads)."""


def json_objects(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects whose keys are mostly ``keys`` (in any case) and whose values are anything."""
    key = st.one_of(
        st.sampled_from(keys),
        st.sampled_from(keys),
        st.sampled_from(keys).map(str.upper),
        st.text(max_size=8),
    )
    value = st.one_of(st.sampled_from(TRICKY), scalars, json_values)
    return st.dictionaries(key, value, max_size=len(keys) + 2)


def is_finite_number(value: Any) -> bool:
    """An int, or a finite float (bools excluded)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def outcome(call: Callable[[], T], error: type[E]) -> T | E:
    """What ``call`` returns, or the ``error`` it raised; any other exception propagates."""
    try:
        return call()
    except error as exc:
        return exc
