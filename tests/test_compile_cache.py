"""The persistent compilation cache: where it goes, how it is switched off, that it is used."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from imitax.compile_cache import cache_folder, enable_compilation_cache


def test_folder_from_the_variable_the_user_cache_or_off(tmp_path, monkeypatch):
    monkeypatch.setenv("IMITAX_COMPILATION_CACHE", str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"
    for off in ("off", "0", "OFF", "none"):
        monkeypatch.setenv("IMITAX_COMPILATION_CACHE", off)
        assert cache_folder() is None and enable_compilation_cache() is None
    monkeypatch.delenv("IMITAX_COMPILATION_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "imitax" / "jax"


def test_an_unwritable_folder_leaves_the_cache_as_it_was(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = jax.config.jax_compilation_cache_dir
    assert enable_compilation_cache(blocker / "cache") is None
    assert jax.config.jax_compilation_cache_dir == before


def test_a_compiled_program_is_written_to_the_cache(tmp_path):
    """Even a program that compiles in milliseconds: a command compiles dozens of them."""
    before = jax.config.jax_compilation_cache_dir
    try:
        assert enable_compilation_cache(tmp_path / "cache") == tmp_path / "cache"
        from jax._src import compilation_cache
        compilation_cache.reset_cache()  # the cache object is made once per process, at its first use

        @jax.jit
        def program(x):
            return jnp.tanh(x @ x.T).sum() + 0.12345  # a program no other test compiles

        program(jnp.ones((3, 3))).block_until_ready()
        assert any((tmp_path / "cache").iterdir())
    finally:
        enable_compilation_cache(before)
        from jax._src import compilation_cache
        compilation_cache.reset_cache()
