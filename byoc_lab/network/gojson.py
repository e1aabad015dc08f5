"""JSON the way go-livepeer's ``encoding/json`` reads and writes it.

go-livepeer decodes its wire structs (``JobRequest``, ``JobParameters``,
``StartRequest``, ``ExternalCapability``) with ``json.Unmarshal``, whose rules differ
from Python's ``json`` in ways a dev kit must reproduce to answer as go-livepeer does:

- object keys match struct fields **case-insensitively** (``"Timeout_Seconds"`` sets
  ``timeout_seconds``); the last matching key wins; unknown keys are ignored;
- ``null`` leaves a field at its zero value, and a top-level ``null`` is an empty struct;
- an ``int`` field takes only an integer literal (``30``; not ``30.0``, ``3e1``,
  ``"30"`` or ``true``) within int64; a ``string`` field only a string; ``NaN`` and
  ``Infinity`` are not JSON at all.

And it encodes them compactly, struct fields in declaration order, map keys sorted,
with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped (Go's HTML-safe default).

Every rejection is a :class:`~byoc_lab.errors.RequestError` (400) naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from byoc_lab.errors import RequestError

__all__ = [
    "INT64_MAX",
    "dumps",
    "get_bool",
    "get_int",
    "get_string",
    "get_string_list",
    "load_struct",
]

INT64_MAX: Final = 2**63 - 1
_GO_ESCAPES: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_GO_ESCAPES_WIDE: Final = {"\u2028": "\\u2028", "\u2029": "\\u2029"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_struct(
    text: str | bytes, fields: Sequence[str], *, what: str, field: str | None = None
) -> dict[str, Any]:
    """Decode a JSON object into ``{field: value}`` for the known ``fields`` only.

    Keys are matched case-insensitively; ``null`` values and unknown keys are dropped,
    so a missing key and ``null`` both leave the field absent (Go's zero value).

    Args:
        text: the JSON document.
        fields: the struct's JSON field names (lower case).
        what: what the document is, for messages (e.g. ``"the Livepeer header"``).
        field: the field or header to name in errors (defaults to ``what``).

    Raises:
        RequestError: not JSON, or JSON that is neither an object nor ``null``.
    """
    name = field if field is not None else what
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise RequestError(
            f"{what} is not valid JSON ({exc})",
            field=name,
            expected="a JSON object",
            got=_excerpt(text),
        ) from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError(
            f"{what} must be a JSON object",
            field=name,
            expected="{...}",
            got=f"a JSON {_json_type(value)}",
        )
    known = {f.lower(): f for f in fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        target = known.get(str(key).lower())
        if target is None:
            continue
        if item is None:
            out.pop(target, None)
        else:
            out[target] = item
    return out


def get_string(data: Mapping[str, Any], key: str, *, what: str) -> str:
    """The string at ``key`` ("" when absent), as a Go ``string`` field takes it.

    Raises:
        RequestError: the value is not a JSON string.
    """
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _type_error(what, key, "a JSON string", value)
    return value


def get_int(data: Mapping[str, Any], key: str, *, what: str) -> int:
    """The integer at ``key`` (0 when absent), as a Go ``int``/``int64`` field takes it.

    Raises:
        RequestError: the value is not an integer literal within int64.
    """
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(what, key, "a whole number (e.g. 30)", value)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise _type_error(what, key, "a whole number within int64", value)
    return value


def get_bool(data: Mapping[str, Any], key: str, *, what: str) -> bool:
    """The boolean at ``key`` (False when absent).

    Raises:
        RequestError: the value is not ``true`` or ``false``.
    """
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _type_error(what, key, "true or false", value)
    return value


def get_string_list(data: Mapping[str, Any], key: str, *, what: str) -> tuple[str, ...]:
    """The list of strings at ``key`` (empty when absent); ``null`` items become "".

    Raises:
        RequestError: the value is not an array of strings.
    """
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _type_error(what, key, "an array of strings", value)
    items: list[str] = []
    for item in value:
        if item is None:
            items.append("")
        elif isinstance(item, str):
            items.append(item)
        else:
            raise _type_error(what, key, "an array of strings", value)
    return tuple(items)


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Encode ``value`` as Go's ``json.Marshal`` would.

    Dicts keep their insertion order, which is right for a Go struct built in field
    order; pass ``sort_keys=True`` for a Go ``map[string]interface{}`` (Go sorts map
    keys). Whole floats print without a fraction, as Go prints a ``float64``.
    """
    text = json.dumps(
        _go_numbers(value), separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys
    )
    for char, escape in (*_GO_ESCAPES.items(), *_GO_ESCAPES_WIDE.items()):
        text = text.replace(char, escape)
    return text


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_go_numbers(v) for v in value]
    return value


def _type_error(what: str, key: str, expected: str, value: Any) -> RequestError:
    return RequestError(
        f"{key} in {what} has the wrong type",
        field=key,
        expected=expected,
        got=f"a JSON {_json_type(value)} ({json.dumps(value)[:40]})",
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _excerpt(text: str | bytes) -> str:
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return repr(shown[:40]) + ("…" if len(shown) > 40 else "")
