"""A command's wall-time breakdown (`imitax.commands.wall_time`)."""

import time

import jax
import jax.numpy as jnp
import pytest

from imitax.commands.wall_time import command_clock, current_clock, phase, process_started, timed_result


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
