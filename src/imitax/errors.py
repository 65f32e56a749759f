"""Errors a user can cause. The CLI prints them as one line and exits 2.

Every message names what is wrong and what was expected.
"""


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
    """Raise ConfigError naming the first field of `config` that is not > 0."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(f"{prefix}.{name} must be > 0, got {value}")


def require_non_negative(config: object, prefix: str, *names: str) -> None:
    """Raise ConfigError naming the first field of `config` that is < 0."""
    for name in names:
        value = getattr(config, name)
        if not value >= 0:
            raise ConfigError(f"{prefix}.{name} must be >= 0, got {value}")
