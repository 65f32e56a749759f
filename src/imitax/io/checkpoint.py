"""Checkpoints that load without running code: msgpack arrays plus JSON metadata.

Format (version 1), a folder:

    params.msgpack   flax.serialization msgpack of a nested dict of arrays
    meta.json        {"format": "imitax-checkpoint", "format_version": 1, "kind": ..., ...}

msgpack only decodes maps, lists, numbers, strings and byte strings (flax restores
arrays from their raw bytes, dtype and shape), so a checkpoint cannot execute code.
Files that look like pickles or PyTorch zips are refused before any decoding.
A save writes a new folder beside the target and swaps it in, so the last good
checkpoint survives any failure.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from imitax.errors import CheckpointError, ImitaxError
from imitax.io.atomic import atomic_write_bytes, atomic_write_json

FORMAT = "imitax-checkpoint"
FORMAT_VERSION = 1
PARAMS_FILE = "params.msgpack"
META_FILE = "meta.json"
_PICKLE_PROTOCOLS = (2, 3, 4, 5)


def save_checkpoint(path: str | Path, params: Any, metadata: dict[str, Any]) -> Path:
    """Save a pytree of arrays and JSON metadata to the folder `path` (atomically)."""
    path = Path(path)
    state = jax.tree.map(np.asarray, serialization.to_state_dict(jax.device_get(params)))
    payload = serialization.msgpack_serialize(state)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        raise ImitaxError(f"cannot write checkpoint {path}: {error.strerror or error}; expected a writable folder") from None
    try:
        atomic_write_bytes(staging / PARAMS_FILE, payload)
        atomic_write_json(staging / META_FILE, meta)
        _swap_in(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _swap_in(staging: Path, path: Path) -> None:
    """Replace `path` with `staging`; the old folder is removed only after the swap."""
    if not path.exists():
        staging.rename(path)
        return
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    path.rename(old)
    try:
        staging.rename(path)
    except BaseException:
        old.rename(path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(path: str | Path, template: Any | None = None) -> tuple[Any, dict[str, Any]]:
    """(params, metadata). With a `template` pytree the params are checked leaf by leaf
    (structure, shape, dtype) and returned in its structure as jnp arrays; without one,
    as a nested dict of NumPy arrays."""
    path = Path(path)
    meta = read_metadata(path)
    raw = (path / PARAMS_FILE).read_bytes() if (path / PARAMS_FILE).is_file() else None
    if raw is None:
        raise CheckpointError(f"{path}: {PARAMS_FILE} is missing; expected it beside {META_FILE}")
    _refuse_code_formats(path / PARAMS_FILE, raw)
    try:
        state = serialization.msgpack_restore(raw)
    except Exception as error:  # msgpack raises several unrelated types on bad bytes
        raise CheckpointError(f"{path / PARAMS_FILE}: not a readable msgpack file ({type(error).__name__}); "
                              "expected params written by imitax") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path / PARAMS_FILE}: holds a {type(state).__name__}; expected a dict of arrays")
    if template is None:
        return state, meta
    return _restore_into(path, template, state), meta


def read_metadata(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; expected a folder with {PARAMS_FILE} and {META_FILE}")
    if path.is_file():
        _refuse_code_formats(path, path.read_bytes()[:8])
        raise CheckpointError(f"{path} is a file; expected an imitax checkpoint folder with {PARAMS_FILE} and {META_FILE}")
    meta_file = path / META_FILE
    if not meta_file.is_file():
        found = ", ".join(sorted(p.name for p in path.iterdir())[:5]) or "nothing"
        for child in path.iterdir():
            if child.is_file():
                _refuse_code_formats(child, child.read_bytes()[:8])
        raise CheckpointError(f"{path} is not an imitax checkpoint (found {found}); expected {PARAMS_FILE} and {META_FILE}")
    try:
        meta = json.loads(meta_file.read_text())
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{meta_file}: not valid JSON; expected imitax checkpoint metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_file}: format is {meta.get('format') if isinstance(meta, dict) else None!r}; "
                              f"expected {FORMAT!r} (is this another library's checkpoint?)")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(f"{meta_file}: format_version {version!r}; this imitax reads versions 1..{FORMAT_VERSION}")
    return meta


def _refuse_code_formats(path: Path, head: bytes) -> None:
    """Pickles (and PyTorch's zipped pickles) can run code when loaded: refuse them unread."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS:
        raise CheckpointError(f"{path} is a pickle, which can run code when loaded; refused. "
                              "Expected an imitax checkpoint (msgpack + JSON)")
    if head.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"{path} is a zip archive (a PyTorch or Stable-Baselines3 file holds pickles); refused. "
                              "Expected an imitax checkpoint (msgpack + JSON)")


def _restore_into(path: Path, template: Any, state: dict[str, Any]) -> Any:
    expected = serialization.to_state_dict(template)
    _check_tree(path, expected, state, "")
    restored = serialization.from_state_dict(template, state)
    return jax.tree.map(jnp.asarray, restored)


def _check_tree(path: Path, expected: Any, found: Any, where: str) -> None:
    if isinstance(expected, dict):
        if not isinstance(found, dict):
            raise CheckpointError(f"{path}: checkpoint of another architecture: {where or '/'} is a leaf; expected a group")
        missing, extra = set(expected) - set(found), set(found) - set(expected)
        if missing or extra:
            detail = f"missing {sorted(missing)}" if missing else f"unexpected {sorted(extra)}"
            raise CheckpointError(f"{path}: checkpoint of another architecture: {where or '/'} has {detail}")
        for key in expected:
            _check_tree(path, expected[key], found[key], f"{where}/{key}")
        return
    want = np.asarray(expected)
    got = np.asarray(found) if not isinstance(found, dict) else None
    if got is None or got.shape != want.shape:
        shape = "a group" if got is None else f"shape {got.shape}"
        raise CheckpointError(f"{path}: checkpoint of another architecture: {where} has {shape}, expected shape {want.shape}")
    if got.dtype != want.dtype:
        raise CheckpointError(f"{path}: {where} has dtype {got.dtype}, expected {want.dtype}")
