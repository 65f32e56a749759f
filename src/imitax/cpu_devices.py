"""One JAX device per CPU core, which every `imitax` command asks for.

On a CPU, JAX makes one device, and a program of many vmapped runs (a sweep's points x seeds,
`--num-seeds 5`) then runs its small operations one after another on one thread: a 27-run GAIL
program kept 1.3 of the 2-core machine's cores busy. With a device per core,
`imitax.rl.loop.shard_runs` splits the runs over them, each device a thread: GAIL on
CartPole-v1, 200k env steps per run, 5.5 s per run vmapped 27 on one device, 3.1 s vmapped 28
over two (2026-11-29, 2-core CPU). A single run stays on one device and trains as before.

`JAX_NUM_CPU_DEVICES=N` or `XLA_FLAGS=--xla_force_host_platform_device_count=N` chooses the
count yourself (1: one device, as JAX's default). From Python, call `use_cpu_cores()` before
the first JAX operation: it changes JAX's global configuration, which a library should not do
when it is imported.
"""

from __future__ import annotations

import os

import jax

FORCED_COUNT_FLAG = "xla_force_host_platform_device_count"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def use_cpu_cores() -> int | None:
    """Give JAX's CPU platform one device per usable core. Returns that count, or None when it
    left JAX as it was: the count already chosen (`JAX_NUM_CPU_DEVICES`, `XLA_FLAGS`' forced
    count, `jax.config`), or JAX already running (its devices are fixed once it starts). On a
    machine with GPUs the CPU's devices run nothing and cost nothing."""
    if "JAX_NUM_CPU_DEVICES" in os.environ or FORCED_COUNT_FLAG in os.environ.get("XLA_FLAGS", ""):
        return None
    if jax.config.jax_num_cpu_devices >= 0:
        return None
    cores = usable_cores()
    try:
        jax.config.update("jax_num_cpu_devices", cores)
    except RuntimeError:  # JAX's backends have started: too late to change the devices
        return None
    return cores
