"""Checkpoints that load without running code: msgpack arrays plus JSON metadata.

Format (version 1), a folder:

    params.msgpack   flax.serialization msgpack of a nested dict of NumPy arrays
    meta.json        {"format": "imitax-checkpoint", "format_version": 1, "kind": ...,
                      "env_spec": ..., plus the caller's metadata (network config,
                      algorithm, step, ...)}

msgpack only decodes maps, lists, numbers, strings and byte strings (flax rebuilds
arrays from their raw bytes, dtype and shape), so a checkpoint cannot execute code.
Files that look like pickles or zip archives (PyTorch and Stable-Baselines3 files are
zipped pickles) are refused from their first bytes, before any decoding.

A save writes a fresh folder beside the target and swaps it in, so the last good
checkpoint survives any failure. Should a process die between the two renames of the
swap, the previous checkpoint waits in `.<name>.old`, and both functions use it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, NoReturn

import jax
import numpy as np
from flax import serialization

from imitax.errors import CheckpointError, OutputError
from imitax.io.atomic import atomic_write_bytes, atomic_write_json, fsync_folder, os_reason, to_jsonable
from imitax.sniff import code_format, read_head
from imitax.staging import make_staging_folder, remove_stale

FORMAT = "imitax-checkpoint"
FORMAT_VERSION = 1
PARAMS_FILE = "params.msgpack"
META_FILE = "meta.json"
_EXPECTED = f"expected an imitax checkpoint folder with {PARAMS_FILE} and {META_FILE}"


# ---------------------------------------------------------------------------- saving


def save_checkpoint(path: str | Path, params: Any, metadata: dict[str, Any]) -> Path:
    """Save the pytree `params` and JSON `metadata` to the folder `path`, atomically.

    Args:
        path: the checkpoint folder; an existing checkpoint there is replaced only once
            the new one is complete. Any other existing file or folder is refused.
        params: a pytree of arrays (nested dicts, flax params, scalars, int arrays).
        metadata: JSON-able values (dataclasses and objects with `to_dict`, such as
            `EnvSpec`, are converted), e.g. kind, env_spec, network config, step.

    Returns:
        `path`.
    """
    path = Path(path)
    _check_replaceable(path)
    payload = serialization.msgpack_serialize(_numpy_state_dict(params))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION}
    meta.update({key: value for key, value in to_jsonable(metadata).items() if key not in meta})
    staging = _make_staging_folder(path)
    try:
        atomic_write_bytes(staging / PARAMS_FILE, payload)
        atomic_write_json(staging / META_FILE, meta)
        _swap_in(staging, path)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            raise OutputError(f"cannot write checkpoint {path}: {os_reason(error)}; expected a writable folder with free space") from None
        raise
    return path


def _numpy_state_dict(params: Any) -> dict[str, Any]:
    """`params` as a nested dict of NumPy arrays (scalars become 0-d arrays)."""
    state = serialization.to_state_dict(jax.device_get(params))
    return jax.tree.map(np.asarray, state)


def _check_replaceable(path: Path) -> None:
    """Refuse to overwrite anything but an imitax checkpoint or an empty folder."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())) or _is_checkpoint_folder(path):
        return
    what = "folder" if path.is_dir() else "file"
    raise CheckpointError(f"refusing to save a checkpoint over {path}: it is a {what} that is not an imitax "
                          "checkpoint; expected a new path or an existing checkpoint folder")


def _is_checkpoint_folder(path: Path) -> bool:
    """Whether `path` holds a meta.json that names the imitax format (any version)."""
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _make_staging_folder(path: Path) -> Path:
    """An empty hidden folder beside `path` (same filesystem, so the final rename is atomic)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, f".{path.name}.")  # what a killed writer of this checkpoint left
        staging = make_staging_folder(path.parent, f".{path.name}.")
    except OSError as error:
        raise OutputError(f"cannot write checkpoint {path}: {os_reason(error)}; "
                          "expected a writable folder") from None
    return staging


def _swap_in(staging: Path, path: Path) -> None:
    """Replace `path` with `staging`; the old folder is removed only after the swap."""
    backup = _backup_path(path)
    if backup.is_dir() and not path.exists():
        backup.rename(path)  # finish undoing a swap that a crash interrupted
    shutil.rmtree(backup, ignore_errors=True)
    if path.exists():
        path.rename(backup)
    try:
        staging.rename(path)
    except BaseException:
        if backup.exists():
            backup.rename(path)
        raise
    shutil.rmtree(backup, ignore_errors=True)
    fsync_folder(path.parent)


def _backup_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


# ---------------------------------------------------------------------------- loading


def load_checkpoint(path: str | Path, template: Any | None = None) -> tuple[Any, dict[str, Any]]:
    """Load `(params, metadata)` from the checkpoint folder `path`.

    With a `template` pytree, the params must match it exactly (keys, and each leaf's
    shape and dtype) and come back in its structure as jnp arrays; without one, they
    come back as a nested dict of NumPy arrays.

    Raises:
        CheckpointError: the path is missing, is not an imitax checkpoint (another
            library's files, a pickle), has a newer format version, unreadable params,
            or params of another architecture than `template`.
    """
    path = _resolve(Path(path))
    meta = read_metadata(path)
    state = _read_params(path / PARAMS_FILE)
    if template is None:
        return state, meta
    return restore_into(path, template, state), meta


def _resolve(path: Path) -> Path:
    """`path`, or the previous checkpoint a crashed save left in `.<name>.old`."""
    backup = _backup_path(path)
    if not path.exists() and backup.is_dir():
        return backup
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The checked meta.json of the checkpoint folder `path` (params are not read)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; {_EXPECTED}")
    if not path.is_dir():
        _refuse_code_formats(path, f"{path} is not an imitax checkpoint")
        raise CheckpointError(f"{path} is a file, not an imitax checkpoint; {_EXPECTED}")
    meta_file = path / META_FILE
    if not meta_file.is_file():
        _refuse_foreign_folder(path)
    _refuse_code_formats(meta_file, f"{meta_file} is not imitax checkpoint metadata")
    meta = _read_json(meta_file)
    _check_format(meta_file, meta)
    return meta


def _refuse_foreign_folder(path: Path) -> None:
    """A folder without meta.json: say what is in it, and whether any of it is a pickle."""
    children = sorted(path.iterdir())
    for child in children:
        if child.is_file():
            _refuse_code_formats(child, f"{path} is not an imitax checkpoint")
    found = ", ".join(child.name for child in children[:5]) or "nothing"
    raise CheckpointError(f"{path} is not an imitax checkpoint (it holds {found}); {_EXPECTED}")


def _read_json(meta_file: Path) -> Any:
    try:
        return json.loads(meta_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{meta_file}: not valid JSON; expected imitax checkpoint metadata") from None
    except OSError as error:
        raise CheckpointError(f"{meta_file}: cannot be read ({os_reason(error)})") from None


def _check_format(meta_file: Path, meta: Any) -> None:
    """meta.json must name the imitax format and a version this code can read."""
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT:
        raise CheckpointError(f"{meta_file}: format is {found!r}, so this is not an imitax checkpoint "
                              f"(another library's?); expected format {FORMAT!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(f"{meta_file}: format_version {version!r}; this imitax reads versions "
                              f"1..{FORMAT_VERSION} (a newer checkpoint needs a newer imitax)")


def _read_params(params_file: Path) -> dict[str, Any]:
    """Sniff, then msgpack-decode params.msgpack into a nested dict of NumPy arrays."""
    if not params_file.is_file():
        raise CheckpointError(f"{params_file} is missing; expected it beside {META_FILE}")
    try:
        raw = params_file.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{params_file}: cannot be read ({os_reason(error)})") from None
    _refuse_code_formats(params_file, f"{params_file} is not imitax params", raw[:64])
    try:
        state = serialization.msgpack_restore(raw)
    except Exception as error:  # msgpack raises several unrelated types on bad bytes
        raise CheckpointError(f"{params_file}: not a readable msgpack file ({type(error).__name__}: {error}); "
                              "expected params written by imitax") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{params_file}: holds a {type(state).__name__}; expected a dict of arrays")
    _check_names(params_file, state)
    return state


def _check_names(params_file: Path, state: dict[str, Any]) -> None:
    """Every key of the nested dict `state` is a string (msgpack maps may have other keys)."""
    for key, value in state.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{params_file}: holds a key {key!r}; expected a dict of arrays named by strings")
        if isinstance(value, dict):
            _check_names(params_file, value)


def _refuse_code_formats(file: Path, context: str, head: bytes | None = None) -> None:
    """Refuse, unread, a file whose first bytes say pickle or zip: loading those can run code."""
    kind = code_format(read_head(file) if head is None else head)
    if kind is not None:
        raise CheckpointError(f"{context}: {file.name} is {kind}, which can run code when loaded, so imitax "
                              f"never opens it (it uses no pickle); {_EXPECTED}")


# ---------------------------------------------------------------------------- templates


def restore_into(path: Path, template: Any, state: dict[str, Any]) -> Any:
    """`state` checked against `template` and returned in its structure as jnp arrays."""
    expected = serialization.to_state_dict(template)
    _check_keys(path, expected, state, "")
    _check_leaves(path, expected, state, "")
    restored = serialization.from_state_dict(template, state)
    return jax.device_put(restored)  # jnp.asarray would compile a program per leaf shape


def _check_keys(path: Path, expected: Any, found: Any, where: str) -> None:
    """Raise at the first group or key of `found` that `expected` lacks, or vice versa."""
    if not isinstance(expected, dict):
        if isinstance(found, dict):
            _mismatch(path, f"{where} is a group of {sorted(found)}, expected {_describe(expected)}")
        return
    if not isinstance(found, dict):
        _mismatch(path, f"{where or '/'} is an array, expected a group of {sorted(expected)}")
    for key, value in expected.items():
        if key not in found:
            _mismatch(path, f"{where}/{key} is missing, expected {_describe(value)}")
        _check_keys(path, value, found[key], f"{where}/{key}")
    extra = [key for key in found if key not in expected]
    if extra:
        _mismatch(path, f"{where}/{extra[0]} is not in the template (unexpected keys {sorted(extra)})")


def _check_leaves(path: Path, expected: Any, found: Any, where: str) -> None:
    """Raise at the first leaf of `found` whose shape or dtype differs (keys already match)."""
    if isinstance(expected, dict):
        for key, value in expected.items():
            _check_leaves(path, value, found[key], f"{where}/{key}")
        return
    want, got = np.asarray(expected), np.asarray(found)
    if got.shape != want.shape:
        _mismatch(path, f"{where} has shape {got.shape}, expected shape {want.shape}")
    if got.dtype != want.dtype:
        _mismatch(path, f"{where} has dtype {got.dtype}, expected dtype {want.dtype}")


def require_finite(path: str | Path, params: Any) -> None:
    """Raise CheckpointError at the first float leaf of `params` holding NaN or inf."""
    for key_path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        values = np.asarray(leaf)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            kind = "NaN" if np.isnan(values).any() else "inf"
            raise CheckpointError(f"{path}: {jax.tree_util.keystr(key_path)} contains {kind} (a diverged run?); "
                                  "expected finite parameters")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"a group of {sorted(value)}"
    array = np.asarray(value)
    return f"an array of shape {array.shape} and dtype {array.dtype}"


def _mismatch(path: Path, detail: str) -> NoReturn:
    raise CheckpointError(f"{path}: checkpoint of another architecture: {detail}")
