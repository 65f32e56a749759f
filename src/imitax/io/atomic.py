"""Atomic writes: a temporary file in the same folder, fsync, then rename over the target.

A reader sees the old file or the new one, never half of one; a failure leaves the
old file as it was and removes the temporary. OS errors (an unwritable folder, a
full disk) become an `OutputError` that names the path and the reason.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from imitax.errors import OutputError, os_reason


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (creating missing parent folders); returns `path`."""
    path = Path(path)
    fd, tmp = _open_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"cannot write {path}: {os_reason(error)}; expected a writable folder with free space") from None
        raise
    fsync_folder(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns `path`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically, converted by `to_jsonable`."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, default=_json_default) + "\n")


def to_jsonable(value: Any) -> Any:
    """`value` as plain JSON values.

    Objects with a `to_dict()` method (e.g. `EnvSpec`) use it; dataclasses become
    dicts of their fields (recursively); enums their value; paths strings; tuples
    lists; NumPy/JAX scalars Python numbers and arrays nested lists; tyro's
    "missing" markers None. Anything else is returned as it is.
    """
    if callable(getattr(value, "to_dict", None)) and not isinstance(value, type):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return value.tolist()
    if type(value).__name__ == "_MISSING_TYPE" or repr(value).startswith("<tyro"):
        return None
    return value


def fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable; best effort (some filesystems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside `path`, as (file descriptor, name)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {os_reason(error)}; expected a writable folder") from None


def _file_mode(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets 0o644 (mkstemp would give 0o600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _json_default(value: Any) -> Any:
    """NumPy/JAX scalars and arrays (via `.tolist()`) and paths; anything else is refused."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
