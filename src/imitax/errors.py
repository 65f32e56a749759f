"""Errors a user can cause. The CLI prints them as one line and exits 2.

Every message names what is wrong and what was expected.
"""

from __future__ import annotations

import dataclasses
import math

INFINITY_ALLOWED = {"infinity_allowed": True}
"""Metadata of a float field where inf means something (`dataclasses.field(default=...,
metadata=INFINITY_ALLOWED)`); every other float option must be finite."""

SEED_RANGE = (0, 2**32 - 1)
"""The seeds imitax takes. JAX accepts any int64 but keeps only the low 32 bits (with x64
off, the default): 2**32 would give seed 0's numbers and -1 those of 2**32 - 1, and beyond
64 bits it overflows. In this range every seed gives its own key; numpy's generators (the
tabular MDPs) take it too."""


class ImitaxError(Exception):
    """Base class of every error caused by user input (ids, files, data, configs)."""


class UnknownEnvError(ImitaxError, KeyError):
    """An environment id that neither backend knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SpaceError(ImitaxError, ValueError):
    """An observation or action space that imitax cannot handle (images, dicts, ...)."""


class DatasetError(ImitaxError, ValueError):
    """A demonstration dataset that is missing, malformed, or does not match its environment."""


class CheckpointError(ImitaxError, ValueError):
    """A checkpoint that is missing, malformed, of another format or another architecture."""


class ConfigError(ImitaxError, ValueError):
    """A configuration value outside its valid range."""


class DivergenceError(ImitaxError, FloatingPointError):
    """Training produced a non-finite loss or parameter."""


class OutputError(ImitaxError):
    """A file or folder imitax cannot write (a read-only folder, a file in the way, a full disk)."""


class ResourceError(ImitaxError):
    """A run that would need more memory than the machine has (`imitax.commands.resources`)."""


class RenderError(ImitaxError):
    """An environment that cannot be drawn to video frames here (no renderer, no OpenGL)."""


class RunLockedError(OutputError):
    """A run folder another process is writing (it holds the folder's lock, `imitax.io.run_lock`)."""


def os_reason(error: OSError) -> str:
    """The OS's reason for `error` and the path it concerns, e.g. "Permission denied: '/a/b'".

    `mkdir(exist_ok=True)` fails with "File exists" when a file is in the way of a
    folder: that case is spelled out.
    """
    if isinstance(error, FileExistsError) and error.filename:
        return f"{str(error.filename)!r} is a file, not a folder"
    reason = error.strerror or str(error)
    return f"{reason}: {str(error.filename)!r}" if error.filename else reason


def require_positive(config: object, prefix: str, *names: str) -> None:
    """Raise ConfigError naming the first field of `config` that is not > 0, or infinite
    (unless the field allows it, `INFINITY_ALLOWED`)."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(f"{prefix}.{name} must be > 0, got {value}")
        _require_finite_bound(config, prefix, name, value, "> 0")


def require_non_negative(config: object, prefix: str, *names: str) -> None:
    """Raise ConfigError naming the first field of `config` that is < 0 or NaN, or infinite
    (unless the field allows it, `INFINITY_ALLOWED`)."""
    for name in names:
        value = getattr(config, name)
        if not value >= 0:
            raise ConfigError(f"{prefix}.{name} must be >= 0, got {value}")
        _require_finite_bound(config, prefix, name, value, ">= 0")


def require_finite(config: object, prefix: str, *names: str) -> None:
    """Raise ConfigError naming the first field of `config` that is NaN or infinite."""
    for name in names:
        value = getattr(config, name)
        if not math.isfinite(value):
            raise ConfigError(f"{prefix}.{name} must be a finite number, got {value}")


def require_seed(value: int, option: str) -> None:
    """Raise ConfigError unless `value` is in `SEED_RANGE`; `option` names it (e.g. "--seed")."""
    low, high = SEED_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{option} is {value}; expected a seed in [{low}, 2**32 - 1 = {high}] "
                          "(JAX keeps a seed's low 32 bits)")


def allows_infinity(config: object, name: str) -> bool:
    """Whether field `name` of the dataclass `config` is marked `INFINITY_ALLOWED`."""
    if not dataclasses.is_dataclass(config):
        return False
    return any(field.name == name and field.metadata.get("infinity_allowed") for field in dataclasses.fields(config))


def _require_finite_bound(config: object, prefix: str, name: str, value: float, bound: str) -> None:
    if math.isinf(value) and not allows_infinity(config, name):
        raise ConfigError(f"{prefix}.{name} must be {bound}, got {value}; expected a finite number")
