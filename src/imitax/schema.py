"""The typed reader behind every schema of a JSON file imitax reads back.

Each file format declares its fields by reading them through `Fields`: a checkpoint's
meta.json (policy, reward, resume, tabular reward, MDP), result.json, a dataset's
metadata.json. A read names the field's type and range; a value that does not fit raises the
reader's error (CheckpointError, DatasetError, ...) naming the file, the field's dotted path,
the value and what was expected. Nothing is coerced: "5" is not an integer, 5.5 is not 5,
true is not 1. docs/formats.md lists every format's fields.

    fields = Fields(meta, "run/checkpoint/meta.json", CheckpointError)
    steps = fields.integer("max_episode_steps", low=1)
    bounds = fields.section("action_space").numbers("low")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NoReturn

from imitax.errors import CheckpointError, ImitaxError

REQUIRED: Any = object()  # the default of a field that must be present


class Fields:
    """The fields of one JSON object from `source`, read with their declared types."""

    def __init__(self, data: Any, source: Any, error: type[ImitaxError] = CheckpointError, path: str = ""):
        self.source, self.error, self.path = str(source), error, path
        if not isinstance(data, dict):
            self._raise(path or "the file", data, "a JSON object", present=True)
        self.data: dict[str, Any] = data

    def fail(self, field: str, value: Any, expected: str) -> NoReturn:
        """Raise the reader's error for `field` holding `value` where `expected` belongs."""
        self._raise(self._name(field), value, expected, present=True)

    def _fail_read(self, field: str, value: Any, expected: str, default: Any) -> NoReturn:
        """`fail`, saying "or null" where the field may be null."""
        self.fail(field, value, f"{expected} or null" if default is None else expected)

    def has(self, field: str) -> bool:
        """Whether `field` is present and not null."""
        return self.data.get(field) is not None

    def raw(self, field: str, default: Any = None) -> Any:
        """`field` as stored, unchecked (for a reader that checks it itself)."""
        return self.data.get(field, default)

    def section(self, field: str, default: Any = REQUIRED) -> Fields:
        """The nested object `field` (an empty one when absent and a default is given)."""
        value = self._get(field, default, "a JSON object")
        return Fields({} if value is None else value, self.source, self.error, self._name(field))

    def text(self, field: str, default: Any = REQUIRED, choices: Sequence[str] | None = None) -> Any:
        expected = f"one of {', '.join(choices)}" if choices else "a string"
        value = self._get(field, default, expected)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, str) or (choices and value not in choices):
            self._fail_read(field, value, expected, default)
        return value

    def flag(self, field: str, default: Any = REQUIRED) -> Any:
        value = self._get(field, default, "true or false")
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, bool):
            self._fail_read(field, value, "true or false", default)
        return value

    def integer(self, field: str, default: Any = REQUIRED, low: int | None = None, high: int | None = None) -> Any:
        expected = _integer_range(low, high)
        value = self._get(field, default, expected)
        if value is default and default is not REQUIRED:
            return value
        if not _is_integer(value) or (low is not None and value < low) or (high is not None and value > high):
            self._fail_read(field, value, expected, default)
        return int(value)

    def number(self, field: str, default: Any = REQUIRED, low: float | None = None, high: float | None = None,
               open_ends: str = "", finite: bool = True) -> Any:
        """A JSON number (an integer counts) within [low, high]; `open_ends` "low", "high" or
        "both" excludes those bounds."""
        expected = _number_range(low, high, open_ends, finite)
        value = self._get(field, default, expected)
        if value is default and default is not REQUIRED:
            return value
        if not _fits_number(value, low, high, open_ends, finite):
            self._fail_read(field, value, expected, default)
        return float(value)

    def integers(self, field: str, default: Any = REQUIRED, low: int | None = None) -> Any:
        expected = f"a list of {_integer_range(low, None).removeprefix('a ')}s"
        value = self._get(field, default, expected)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, list) or not all(_is_integer(v) and (low is None or v >= low) for v in value):
            self._fail_read(field, value, expected, default)
        return tuple(int(v) for v in value)

    def texts(self, field: str, default: Any = REQUIRED) -> Any:
        value = self._get(field, default, "a list of strings")
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._fail_read(field, value, "a list of strings", default)
        return tuple(value)

    def numbers(self, field: str, default: Any = REQUIRED, finite: bool = True) -> Any:
        expected = "a list of finite numbers" if finite else "a list of numbers (not NaN)"
        value = self._get(field, default, expected)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, list) or not all(_fits_number(v, None, None, "", finite) for v in value):
            self._fail_read(field, value, expected, default)
        return tuple(float(v) for v in value)

    def _get(self, field: str, default: Any, expected: str) -> Any:
        value = self.data.get(field)
        if value is None:
            if default is REQUIRED:
                self._raise(self._name(field), value, expected, present=field in self.data)
            return default
        return value

    def _name(self, field: str) -> str:
        return f"{self.path}.{field}" if self.path else field

    def _raise(self, name: str, value: Any, expected: str, present: bool) -> NoReturn:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        found = f"is {shown}" if present else "is missing"
        raise self.error(f"{self.source}: {name} {found}; expected {expected}")


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number: int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fits_number(value: Any, low: float | None, high: float | None, open_ends: str, finite: bool) -> bool:
    if not is_number(value) or math.isnan(value) or (finite and math.isinf(value)):
        return False
    if low is not None and (value <= low if open_ends in ("low", "both") else value < low):
        return False
    return high is None or (value < high if open_ends in ("high", "both") else value <= high)


def _integer_range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    return f"an integer >= {low}" if low is not None else "an integer"


def _number_range(low: float | None, high: float | None, open_ends: str, finite: bool) -> str:
    kind = "a finite number" if finite else "a number (not NaN)"
    opens_low, opens_high = open_ends in ("low", "both"), open_ends in ("high", "both")
    if low is not None and high is not None:
        return f"{kind} in {'(' if opens_low else '['}{low:g}, {high:g}{')' if opens_high else ']'}"
    if low is not None:
        return f"{kind} {'>' if opens_low else '>='} {low:g}"
    return kind
