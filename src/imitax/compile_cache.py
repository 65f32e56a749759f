"""JAX's persistent compilation cache, which every `imitax` command switches on.

Much of a short command's wall time is XLA compiling the same programs as last time (a GAIL
command on the 2-core CPU: compile 14.6 s cold, 3.6 s from the cache). The folder is
`$IMITAX_COMPILATION_CACHE` when set ("off" switches the cache off), else
`$XDG_CACHE_HOME/imitax/jax` or `~/.cache/imitax/jax`. From Python, call
`enable_compilation_cache()` yourself: it changes JAX's global configuration, which a
library should not do when it is imported.

The cache holds compiled XLA programs that JAX will run: give it a folder only you can
write, as you would your Python environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV_VAR = "IMITAX_COMPILATION_CACHE"
OFF_VALUES = ("off", "0", "false", "no", "none")
# Every program is cached (JAX's default keeps only those that took 1 s or more). A command
# compiles dozens of small programs (a warm `imitax train gail`: 109, 106 of them under 0.5 s),
# each ~40 ms to compile and ~5 ms to read back: caching them all cut that command's compile
# time from 6.4 s to 2.8 s, BC's from 3.9 s to 1.6 s (2-core CPU; benchmarks/compile_cache.py).
MIN_COMPILE_S = 0.0


def cache_folder() -> Path | None:
    """The folder the cache uses: `$IMITAX_COMPILATION_CACHE`, else the user's cache dir;
    None when the variable switches it off."""
    configured = os.environ.get(ENV_VAR)
    if configured is not None and configured.strip():
        if configured.strip().lower() in OFF_VALUES:
            return None
        return Path(configured).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imitax" / "jax"


def enable_compilation_cache(folder: str | Path | None = None) -> Path | None:
    """Switch the persistent compilation cache on at `folder` (default: `cache_folder()`),
    before the first compilation. Returns the folder, or None when the cache is off or the
    folder cannot be created (the command then compiles as usual)."""
    path = Path(folder).absolute() if folder is not None else cache_folder()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_S)
    return path
