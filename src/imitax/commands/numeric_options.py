"""One check of every number a command takes (floats finite, seeds in `SEED_RANGE`) and of
every name and path (writable as UTF-8, which the run's files record them in).

Each config's `validate()` checks the ranges that its fields mean; what holds for every
option is checked here once, over the command's whole config, so that no float field can
slip through as NaN (which every comparison calls false) or inf (which passes `> 0`), and
an option added later is covered without a line of its own. Errors name the option as it
is typed on the command line.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import typing
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

import tyro

from imitax.errors import ConfigError, allows_infinity, require_seed


def check_numeric_options(config: Any) -> None:
    """Raise ConfigError for the first float option of `config` (a command's config dataclass,
    nested ones included) that is NaN or infinite, unless its field is marked
    `INFINITY_ALLOWED` (then only NaN is refused), and for the first seed outside
    `SEED_RANGE`. A seed is an int field named `seed` or ending in `_seed`."""
    for option, owner, name, value in _options(config, ""):
        if _is_float(value) and not math.isfinite(value):
            if not allows_infinity(owner, name):
                raise ConfigError(f"{option} is {value}; expected a finite number")
            if math.isnan(value):
                raise ConfigError(f"{option} is {value}; expected a number (or inf)")
        elif isinstance(value, tuple) and any(_is_float(item) and not math.isfinite(item) for item in value):
            raise ConfigError(f"{option} is {list(value)}; expected finite numbers")
        elif (name == "seed" or name.endswith("_seed")) and isinstance(value, int):
            require_seed(value, option)


def check_text_options(config: Any) -> None:
    """Raise ConfigError for the first text or path option of `config` that UTF-8 cannot
    encode (a name with bytes that are not UTF-8 reaches Python as lone surrogates): the run's
    config.json, result.json and summary record it, so such a run would fail only after training."""
    for option, _, _, value in _options(config, ""):
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, (str, PurePath)):
                try:
                    str(item).encode("utf-8")
                except UnicodeEncodeError:
                    raise ConfigError(f"{option} {os.fsencode(str(item))!r} is not valid UTF-8; expected a name "
                                      "that is (the run's files record it)") from None


def _options(config: Any, prefix: str) -> Iterator[tuple[str, Any, str, Any]]:
    """(command-line flag, owning dataclass, field name, value) of every non-dataclass field."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return
    hints: dict[str, Any] | None = None
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            hints = _type_hints(type(config)) if hints is None else hints
            nested = prefix if _omits_prefix(hints.get(field.name)) else f"{prefix}{field.name}."
            yield from _options(value, nested)
        else:
            yield "--" + f"{prefix}{field.name}".replace("_", "-"), config, field.name, value


def _type_hints(config_type: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(config_type, include_extras=True)
    except (NameError, TypeError):  # an unresolvable annotation: flags keep their prefix
        return {}


def _omits_prefix(hint: Any) -> bool:
    """Whether tyro drops the field's name from its options' flags (`tyro.conf.OmitArgPrefixes`)."""
    return typing.get_origin(hint) is typing.Annotated and any(
        marker is tyro.conf.OmitArgPrefixes for marker in typing.get_args(hint)[1:])


def _is_float(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
