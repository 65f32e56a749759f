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

The device count is part of what a multi-run program's numbers depend on, as the number of runs
is: XLA computes a batch of 14 runs with other kernels than a batch of 27, and float-level
differences grow over a long run. The same command on the same machine gives the same numbers
(and resumes bit for bit); with another core count, or from Python without this call, it is an
equivalent draw. `JAX_NUM_CPU_DEVICES=1` reproduces a one-device run exactly.
"""

from __future__ import annotations

import os

import jax

FORCED_COUNT_FLAG = "xla_force_host_platform_device_count"


# A container's CPU quota (cgroup v2, then v1): the affinity mask does not show it.
CGROUP_QUOTA_FILES = (("/sys/fs/cgroup/cpu.max", None),
                      ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity mask where the OS has one, capped by
    a container's CPU quota (rounded up)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_quota() -> int | None:
    """CPUs the cgroup's quota allows (rounded up), or None when there is none or it cannot be read."""
    for quota_file, period_file in CGROUP_QUOTA_FILES:
        try:
            with open(quota_file) as quota_text:
                fields = quota_text.read().split()
            if period_file is not None:
                with open(period_file) as period_text:
                    fields.append(period_text.read().strip())
            quota, period = fields[0], float(fields[1])
        except (OSError, IndexError, ValueError):
            continue
        if quota in ("max", "-1") or period <= 0:
            return None
        return max(1, -(-int(quota) // int(period)))
    return None


def use_cpu_cores() -> int | None:
    """Give JAX's CPU platform one device per usable core. Returns that count, or None when it
    left JAX as it was: the count already chosen (`JAX_NUM_CPU_DEVICES`, `XLA_FLAGS`' forced
    count, `jax.config`), or JAX already running (its devices are fixed once it starts). On a
    machine with GPUs the CPU's devices hold no runs (the runs go to the GPUs)."""
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
