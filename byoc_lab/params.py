"""Declared, tunable processor parameters.

A processor declares its parameters as class attributes::

    class GreenTint(FrameProcessor):
        boost = Param(80, min=0, max=255, help="added to the green channel")

One declaration serves four uses: the value on the instance (``self.boost``), the
notebook sliders, validation of ``/stream/params`` updates, and the parameter schema
written into an exported image's label. Values are validated on every assignment, so
a processor never sees a value outside its declared bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload

from .errors import ParamError

__all__ = ["Param", "ParamKind", "ParamSpec", "carry_params", "current_params"]

T = TypeVar("T")
ParamKind = Literal["bool", "int", "float", "str", "choice"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class ParamSpec:
    """The JSON-able description of one parameter (the schema's row)."""

    name: str
    kind: ParamKind
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the spec as a JSON-compatible dict (keys with None values omitted)."""
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": self.default}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.help:
            out["help"] = self.help
        return out


class Param(Generic[T]):
    """A declared processor parameter (a data descriptor).

    Args:
        default: the initial value; its type (bool, int, float or str) fixes the kind.
        min: lowest allowed value (numbers only).
        max: highest allowed value (numbers only).
        choices: the only allowed values.
        help: one line shown next to the control and in the schema.

    Reading ``processor.boost`` gives the current value; assigning validates it and
    raises :class:`~byoc_lab.errors.ParamError` when it is of the wrong type or out of
    bounds. Numeric strings (``"80"``) and ``"true"``/``"false"`` are accepted, since
    HTTP clients and gateways often send them.
    """

    def __init__(
        self,
        default: T,
        *,
        min: float | None = None,
        max: float | None = None,
        choices: Sequence[T] | None = None,
        help: str = "",
    ) -> None:
        self.name = "<unbound>"
        self.kind: ParamKind = _kind_of(default, choices)
        self.min = min
        self.max = max
        self.choices: tuple[T, ...] | None = tuple(choices) if choices is not None else None
        self.help = help
        if self.kind in ("bool", "str", "choice") and (min is not None or max is not None):
            raise ParamError(f"min/max only apply to numbers, not to a {self.kind} parameter")
        if min is not None and max is not None and min > max:
            raise ParamError(
                "Param bounds are inverted", expected="min <= max", got=f"{min} > {max}"
            )
        self.default: T = self.validate(default)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Param[T]: ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> Param[T] | T:
        if obj is None:
            return self
        value: T = obj.__dict__.get(self.name, self.default)
        return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self.name] = self.validate(value)

    def __repr__(self) -> str:
        return f"Param({self.default!r}, kind={self.kind!r}, name={self.name!r})"

    @property
    def spec(self) -> ParamSpec:
        """The schema row for this parameter."""
        return ParamSpec(
            name=self.name,
            kind=self.kind,
            default=self.default,
            min=self.min,
            max=self.max,
            choices=self.choices,
            help=self.help,
        )

    def validate(self, value: Any) -> T:
        """Return ``value`` converted to this parameter's type, or raise ParamError."""
        converted = self._convert(value)
        if self.choices is not None and converted not in self.choices:
            raise ParamError(
                f"parameter {self.name!r} has a value that is not one of its choices",
                expected=" | ".join(repr(c) for c in self.choices),
                got=repr(value),
            )
        if isinstance(converted, int | float) and not isinstance(converted, bool):
            low = self.min if self.min is not None else -math.inf
            high = self.max if self.max is not None else math.inf
            if not low <= converted <= high:
                raise ParamError(
                    f"parameter {self.name!r} is out of bounds",
                    expected=_bounds_words(self.min, self.max),
                    got=repr(value),
                )
        result: T = converted
        return result

    def _convert(self, value: Any) -> Any:
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
        elif kind == "int":
            number = _as_number(value)
            if isinstance(number, int):
                return number
            if number is not None and math.isfinite(number) and number.is_integer():
                return int(number)
        elif kind == "float":
            number = _as_number(value)
            if number is not None and math.isfinite(_as_float(number)):
                return float(number)
        elif isinstance(value, str) or (self.choices is not None and value in self.choices):
            return value
        raise ParamError(
            f"parameter {self.name!r} has the wrong type",
            expected=_KIND_WORDS[kind],
            got=f"{type(value).__name__} {value!r}",
        )


_KIND_WORDS: dict[str, str] = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "choice": "one of the declared choices",
}


def _kind_of(default: Any, choices: Sequence[Any] | None) -> ParamKind:
    if choices is not None and isinstance(default, str):
        return "choice"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    raise ParamError(
        "a Param default must be a bool, int, float or str",
        got=f"{type(default).__name__} {default!r}",
    )


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (int, float):  # int first: "9007199254740993" stays exact
            try:
                return parse(text)
            except ValueError:
                continue
    return None


def _as_float(number: float | int) -> float:
    """``number`` as a float; an int too large for one is infinite (never OverflowError)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf


def _bounds_words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"a value between {low:g} and {high:g}"
    if low is not None:
        return f"a value of at least {low:g}"
    return f"a value of at most {high:g}"


def current_params(processor: object) -> dict[str, Any]:
    """The processor's current parameter values (``get_params()``), or ``{}`` without one."""
    get = getattr(processor, "get_params", None)
    return dict(get()) if callable(get) else {}


def carry_params(old: object, new: object) -> dict[str, Any]:
    """Give ``new`` the current values of the parameters it shares with ``old``.

    Used when a processor is hot-swapped (worker, preview): a parameter declared by
    ``new`` under the same name as one of ``old``'s keeps its tuned value when that
    value is valid for ``new``'s declaration; others keep ``new``'s defaults.

    Returns:
        The values carried over, by name.
    """
    current = current_params(old)
    declared = getattr(new, "declared_params", None)
    if not current or not callable(declared):
        return {}
    carried: dict[str, Any] = {}
    for name, param in declared().items():
        if name in current:
            try:
                value = param.validate(current[name])
            except ParamError:
                continue
            setattr(new, name, value)
            carried[name] = value
    return carried
