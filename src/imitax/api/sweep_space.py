"""The points of a sweep: config fields by dotted name, a grid of values and random samples.

A field is named as on the command line or in Python, with or without the method's section:
`gail.disc-learning-rate`, `disc_learning_rate`, `gail.ppo.learning-rate`, `ppo.learning_rate`.
Values are converted to the field's type (float, int, bool, str, or None where the field
allows it) and every point's config is validated before anything trains.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import types
import typing
from collections.abc import Sequence
from typing import Any

import numpy as np

from imitax.errors import ConfigError

Point = dict[str, Any]  # {dotted field: value}


def field_name(name: Any, section: str) -> str:
    """`name` as a dotted path of config fields: dashes to underscores, `section.` dropped."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a sweep field must be a non-empty name such as 'disc_learning_rate', got {name!r}")
    name = name.strip().replace("-", "_")
    prefix = section.replace("-", "_") + "."
    return name[len(prefix):] if name.startswith(prefix) else name


def field_type(config: Any, path: str) -> Any:
    """The annotated type of the field at dotted `path` of the dataclass `config`."""
    owner, parts = config, path.split(".")
    for depth, part in enumerate(parts):
        names = {f.name for f in dataclasses.fields(owner)} if dataclasses.is_dataclass(owner) else set()
        if part not in names:
            where = ".".join(parts[:depth]) or type(config).__name__
            choices = ", ".join(sorted(names)) if names else "(none: not a config section)"
            raise ConfigError(f"{type(config).__name__} has no field {path!r} ({part!r} is not in {where}); expected "
                              f"one of {choices}")
        if depth == len(parts) - 1:
            return typing.get_type_hints(type(owner))[part]
        owner = getattr(owner, part)
    raise AssertionError("unreachable")


def convert(config: Any, path: str, value: Any) -> Any:
    """`value` (a string from the command line, or a Python value) as the type of field `path`."""
    kind = field_type(config, path)
    allowed = set(typing.get_args(kind)) if typing.get_origin(kind) in (typing.Union, types.UnionType) else {kind}
    if type(None) in allowed and (value is None or isinstance(value, str) and value.strip().lower() == "none"):
        return None
    allowed.discard(type(None))
    text = value.strip() if isinstance(value, str) else value
    for wanted in (bool, int, float, str):
        if wanted not in allowed:
            continue
        if wanted is bool:
            if isinstance(text, bool) or text in ("true", "false", "True", "False"):
                return text if isinstance(text, bool) else text.lower() == "true"
        elif wanted is int:
            number = _number(text)
            if number is not None and float(number).is_integer() and not isinstance(text, bool):
                return int(number)
        elif wanted is float:
            number = _number(text)
            if number is not None and not isinstance(text, bool):
                return float(number)
        elif isinstance(text, str):
            return text
    names = " or ".join(getattr(t, "__name__", str(t)) for t in sorted(allowed, key=str)) or "a value"
    raise ConfigError(f"sweep value {value!r} for {path} is not a {names}; expected values of the field's type "
                      "(lists, tuples and nested configs cannot be swept)")


def _number(text: Any) -> float | None:
    if isinstance(text, (int, float, np.number)):
        return float(text)
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def with_values(config: Any, point: Point) -> Any:
    """`config` with the point's values set (nested dataclasses replaced along each path)."""
    for path, value in point.items():
        config = _replace(config, path.split("."), value)
    return config


def _replace(owner: Any, parts: list[str], value: Any) -> Any:
    if len(parts) == 1:
        return dataclasses.replace(owner, **{parts[0]: value})
    return dataclasses.replace(owner, **{parts[0]: _replace(getattr(owner, parts[0]), parts[1:], value)})


def grid_points(config: Any, section: str, grid: dict[str, Sequence[Any]]) -> list[Point]:
    """Every combination of the grid's values (the first field varies slowest)."""
    axes = {}
    for name, values in grid.items():
        path = field_name(name, section)
        if path in axes:
            raise ConfigError(f"sweep field {name!r} is given twice; expected each field once")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"sweep grid for {path}: expected a non-empty list of values, got {values!r}")
        converted = [convert(config, path, value) for value in values]
        if len(set(map(repr, converted))) != len(converted):
            raise ConfigError(f"sweep grid for {path} repeats a value ({', '.join(map(repr, converted))}); expected "
                              "distinct values (more seeds: num_seeds)")
        axes[path] = converted
    return refuse_unused(config, [dict(zip(axes, combination)) for combination in itertools.product(*axes.values())])


@dataclasses.dataclass(frozen=True)
class Range:
    """A sampled field's bounds: ints uniform from low to high inclusive; floats log-uniform
    when both bounds are positive (learning rates, coefficients), else uniform."""

    low: int | float
    high: int | float

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    @property
    def log(self) -> bool:
        return not self.integer and self.low > 0

    def draw(self, rng: np.random.Generator) -> int | float:
        if self.integer:
            return int(rng.integers(self.low, self.high + 1))
        if self.log:
            return float(np.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


def parse_ranges(config: Any, section: str, ranges: dict[str, Sequence[Any]]) -> dict[str, Range]:
    """{dotted field: Range} of `{field: (low, high)}`, bounds converted to the field's type."""
    parsed = {}
    for name, bounds in ranges.items():
        path = field_name(name, section)
        if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
            raise ConfigError(f"sweep range for {path}: expected (low, high), got {bounds!r}")
        low, high = (convert(config, path, bound) for bound in bounds)
        if isinstance(low, bool) or not isinstance(low, (int, float)) or not low < high:
            raise ConfigError(f"sweep range for {path}: expected numbers low < high, got {bounds!r}")
        parsed[path] = Range(low, high)
    return parsed


def sampled_points(config: Any, section: str, ranges: dict[str, Sequence[Any]], count: int, seed: int) -> list[Point]:
    """`count` random points: each field drawn independently from its (low, high) `Range`."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"num_samples must be an integer >= 1 with a sampled range, got {count!r}")
    rng = np.random.default_rng(seed)
    parsed = parse_ranges(config, section, ranges)
    # point by point, so that more samples extend the same list
    return refuse_unused(config, [{path: bounds.draw(rng) for path, bounds in parsed.items()} for _ in range(count)])


def refuse_unused(config: Any, points: list[Point]) -> list[Point]:
    """`points`, unless a swept field is one that every point's config leaves unused (a section's
    `unused_fields()`, e.g. SAC's temperature rate when the temperature is fixed): its values
    would all train the same runs."""
    configs = [with_values(config, point) for point in points]
    for path in points[0] if points else ():
        *section, name = path.split(".")
        reasons = set()
        for owner in configs:
            for part in section:
                owner = getattr(owner, part)
            reasons.add(getattr(owner, "unused_fields", dict)().get(name))
        if None not in reasons:
            raise ConfigError(f"sweep field {path} has no effect: {reasons.pop()}; expected a field the run uses "
                              "(or sweep the setting that makes it used together with it)")
    return points


def parse_assignments(items: Sequence[str], option: str) -> dict[str, list[str]]:
    """Command-line `FIELD=V1,V2,...` (a grid) or `FIELD=LOW:HIGH` (a range) into {field: parts}."""
    parsed: dict[str, list[str]] = {}
    separator = ":" if option == "--sample" else ","
    for item in items:
        name, equals, values = item.partition("=")
        if not equals or not name.strip() or not values.strip():
            example = "gail.disc-learning-rate=1e-4:1e-2" if option == "--sample" else "gail.disc-learning-rate=1e-4,3e-4,1e-3"
            raise ConfigError(f"{option} {item!r}: expected FIELD={'LOW:HIGH' if option == '--sample' else 'V1,V2,...'}, "
                              f"e.g. {example}")
        if name.strip() in parsed:
            raise ConfigError(f"{option}: field {name.strip()!r} is given twice; expected each field once")
        parsed[name.strip()] = [part.strip() for part in values.split(separator)]
    return parsed
