"""A command's wall-time breakdown (`imitax.commands.wall_time`)."""

import time

import jax
import jax.numpy as jnp
import pytest

from imitax.commands.wall_time import CommandClock, command_clock, current_clock, phase, process_started, timed_result


def test_phases_add_up_and_nested_phases_count_once():
    with command_clock(time.perf_counter()) as clock:
        with phase("train"):
            time.sleep(0.05)
            with phase("evaluate"):  # inside train: counted as train
                time.sleep(0.05)
        with phase("evaluate"):
            time.sleep(0.02)
        timing = clock.to_dict()
    assert timing["train_s"] == pytest.approx(0.1, abs=0.03)
    assert timing["evaluate_s"] == pytest.approx(0.02, abs=0.02)
    parts = sum(value for key, value in timing.items() if key not in ("total_s", "compile_s"))
    assert timing["total_s"] == pytest.approx(parts, abs=0.005)


def test_compile_time_is_counted_inside_a_command_only():
    with command_clock(time.perf_counter()) as clock:
        with phase("train"):
            jax.jit(lambda x: jnp.sin(x) * 3.0 + x.sum())(jnp.arange(7.0)).block_until_ready()
        inside = clock.compile_s
    assert 0 < inside <= clock.to_dict()["total_s"]
    jax.jit(lambda x: jnp.cos(x) * 5.0)(jnp.arange(9.0)).block_until_ready()
    assert clock.compile_s == inside and current_clock() is None


def test_nested_and_overlapping_compile_events_count_their_wall_time_once():
    """JAX reports a cache read inside the backend compile that made it, and the trace of a
    jitted function called while tracing another, each as its own event."""
    clock = CommandClock(0.0)
    clock.add_compile(end=10.0, seconds=1.0)   # [9, 10]
    clock.add_compile(end=12.0, seconds=0.5)   # [11.5, 12]: disjoint, adds
    assert clock.compile_s == pytest.approx(1.5)
    clock.add_compile(end=12.5, seconds=4.0)   # [8.5, 12.5] covers both and the gap
    assert clock.compile_s == pytest.approx(4.0)
    clock.add_compile(end=12.4, seconds=0.2)   # nested inside: nothing new
    clock.add_compile(end=13.0, seconds=1.0)   # [12, 13] overlaps the end: 0.5 more
    assert clock.compile_s == pytest.approx(4.5)


def test_outside_a_command_nothing_is_timed():
    with phase("load"):
        pass
    assert timed_result({"score": 1.0}) == {"score": 1.0}
    with pytest.raises(ValueError, match="unknown phase"):
        with phase("lunch"):
            pass


def test_result_keeps_its_first_breakdown():
    with command_clock(time.perf_counter()):
        first = timed_result({"score": 1.0})
        time.sleep(0.01)
        assert timed_result(first) is first


def test_process_start_is_before_now():
    started = process_started()
    assert started is not None  # the tests run on Linux
    assert 0 < time.perf_counter() - started < 24 * 3600
