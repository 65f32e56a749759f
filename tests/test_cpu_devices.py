"""One JAX device per CPU core (`imitax.cpu_devices`) and runs split over devices that do not
divide them (`imitax.rl.loop.shard_runs` pads with copies of the last run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imitax.rl.loop import device_plan


@pytest.mark.parametrize("runs, devices, plan", [
    (1, 2, (1, 1)),      # one run stays on one device
    (4, 1, (1, 4)),      # one device: nothing to split
    (4, 2, (2, 4)),      # even split, no padding
    (3, 2, (2, 4)),      # 2 per device, one copy
    (27, 2, (2, 28)),
    (27, 16, (14, 28)),  # 2 per device on 14 devices rather than 16 devices and 5 copies
    (5, 8, (5, 5)),      # fewer runs than devices: one each
])
def test_the_device_plan_keeps_runs_per_device_and_copies_few(runs, devices, plan):
    assert device_plan(runs, devices) == plan


def _python(script: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    base["JAX_PLATFORMS"] = "cpu"  # the CPU's devices, also on a machine with a GPU
    done = subprocess.run([sys.executable, "-c", script], env={**base, **env}, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


CORES = """
import json, jax
from imitax.cpu_devices import use_cpu_cores, usable_cores
first = use_cpu_cores()
print(json.dumps({"first": first, "again": use_cpu_cores(), "devices": jax.local_device_count(),
                  "cores": usable_cores()}))
"""

TOO_LATE = """
import json, jax, jax.numpy as jnp
from imitax.cpu_devices import use_cpu_cores
jnp.zeros(1).block_until_ready()
print(json.dumps({"first": use_cpu_cores(), "devices": jax.local_device_count()}))
"""


def test_the_cpu_gets_a_device_per_core_unless_jax_has_started():
    """(A count the user chose is kept: the padded-runs test below.)"""
    cores = _python(CORES)
    assert cores["first"] == cores["cores"] == cores["devices"] and cores["again"] is None
    assert _python(TOO_LATE) == {"first": None, "devices": 1}


def test_every_command_asks_for_the_cores_before_jax_starts(monkeypatch, capsys):
    import imitax.cpu_devices
    from imitax.cli import main

    calls = []
    monkeypatch.setattr(imitax.cpu_devices, "use_cpu_cores", lambda: calls.append(1))
    assert main(["train", "bc", "CartPole-v1", "--demos", "no-such/dataset-v0"]) == 2
    assert calls == [1] and "no-such/dataset-v0" in capsys.readouterr().err


PADDED = """
import json, jax
from imitax.cpu_devices import use_cpu_cores
chosen = use_cpu_cores()  # XLA_FLAGS' count stands

from test_cpu_devices import padded_host_run, padded_ppo_host_run, padded_toy_run
print(json.dumps({"chosen": chosen, "devices": jax.local_device_count(), **padded_toy_run(), "host": padded_host_run(),
                  "ppo_host": padded_ppo_host_run()}))
"""


class _Saved:
    """A checkpoint that saves after every chunk and records how many runs each save held."""

    def __init__(self, runs_in=lambda carry: len(carry["x"])) -> None:
        self.runs: list[int] = []
        self.runs_in = runs_in

    def restore(self, template):
        return None

    def due(self, final: bool) -> bool:
        return True

    def save(self, iterations, carry, history) -> None:
        self.runs.append(self.runs_in(carry))


def padded_toy_run() -> dict:
    """3 runs of a tiny random walk in one compiled loop: its final x, metrics, checkpoint sizes."""
    import jax
    import jax.numpy as jnp

    from imitax.rl.loop import devices_used, run_compiled

    def init(key):
        return {"x": jax.random.normal(key, (2,)), "key": key}

    def step(carry):
        key, sub = jax.random.split(carry["key"])
        x = 0.5 * carry["x"] + jax.random.normal(sub, (2,))
        return {"x": x, "key": key}, {"norm": jnp.linalg.norm(x)}

    saved = _Saved()
    result = run_compiled(init, step, jax.random.PRNGKey(0), 6, num_seeds=3, target_chunks=3, checkpoint=saved)
    return {"used": devices_used(result.carry), "x": np.asarray(result.carry["x"]).tolist(),
            "norm": np.asarray(result.history["norm"]).tolist(), "saved": saved.runs}


def padded_host_run() -> dict:
    """3 SAC runs on Gymnasium's Pendulum, stepped together (the host loop's lockstep), split over
    the devices as on GPUs: the devices used, a final parameter, the critic losses, and how
    many single runs each checkpoint held."""
    import imitax
    import imitax.rl.off_policy
    from imitax.rl.loop import devices_used
    from imitax.rl.off_policy import run_off_policy, sac_learner
    from imitax.rl.sac import SAC, SACConfig

    env = imitax.make("Pendulum-v1", backend="gymnasium")
    config = SACConfig(total_steps=240, learning_starts=200, batch_size=32, hidden_sizes=(16,), num_envs=2)
    # the host loop saves a list, one entry per run, each a single run's state (no padding run, no runs axis)
    saved = _Saved(runs_in=lambda entries: sum(np.ndim(entry[0].update_step) == 0 for entry in entries))
    imitax.rl.loop.SPLIT_HOST_RUNS_ON_CPU = True  # as on GPUs (on CPUs the runs stay on one device)
    try:
        result = run_off_policy(env, sac_learner(SAC(config, env.spec)), config.num_iterations, seed=0, num_seeds=3,
                                checkpoint=saved)
    finally:
        imitax.rl.loop.SPLIT_HOST_RUNS_ON_CPU = False
    kernel = result.carry[0].policy_params["net"]["params"]["MLP_0"]["Dense_0"]["kernel"]  # [3 runs, 3, 16]
    return {"used": devices_used(result.carry[0]), "param": np.asarray(kernel).tolist(),
            "critic": np.asarray(result.history["critic_loss"]).tolist(), "saved": saved.runs}


def padded_ppo_host_run() -> dict:
    """3 PPO runs on Gymnasium's CartPole stepped together, split over the devices as on GPUs:
    the devices used, a final parameter, the policy losses, and the runs each checkpoint held."""
    import imitax
    import imitax.rl.loop
    from imitax.rl.loop import devices_used
    from imitax.rl.ppo import PPOConfig
    from imitax.rl.train import train_ppo

    env = imitax.make("CartPole-v1", backend="gymnasium")
    config = PPOConfig(total_steps=256, num_envs=2, rollout_steps=32, num_epochs=1, num_minibatches=2, hidden_sizes=(8,))
    saved = _Saved(runs_in=lambda entries: sum(np.ndim(entry[0].update_step) == 0 for entry in entries))
    imitax.rl.loop.SPLIT_HOST_RUNS_ON_CPU = True
    try:
        result = train_ppo(env, config, seed=0, num_seeds=3, checkpoint=saved)
    finally:
        imitax.rl.loop.SPLIT_HOST_RUNS_ON_CPU = False
    kernel = result.state.params["policy"]["params"]["MLP_0"]["Dense_0"]["kernel"]  # [3 runs, 4, 8]
    return {"used": devices_used(result.state), "param": np.asarray(kernel).tolist(),
            "loss": np.asarray(result.history["policy_loss"]).tolist(), "saved": saved.runs}


def test_runs_the_devices_do_not_divide_are_padded_and_train_as_on_one_device():
    """3 runs on 2 devices: 2 per device (a copy of the last pads the second); the result, the
    metrics and every checkpoint hold the 3 runs, with the values one device computes. The same
    for the Gymnasium host loops' runs stepped together (SAC's and PPO's)."""
    import jax

    one = padded_toy_run()  # here: the tests' one device (conftest.py)
    two = _python(PADDED, XLA_FLAGS="--xla_force_host_platform_device_count=2",
                  PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    assert (jax.local_device_count(), one["used"], two["devices"], two["used"], two["chosen"]) == (1, 1, 2, 2, None)
    assert len(two["x"]) == 3 and len(two["norm"]) == 3 and len(two["norm"][0]) == 6
    assert two["saved"] == one["saved"] == [3, 3, 3]
    assert len({tuple(run) for run in two["x"]}) == 3  # three different runs, not copies
    np.testing.assert_allclose(two["x"], one["x"], rtol=1e-6)
    np.testing.assert_allclose(two["norm"], one["norm"], rtol=1e-6)
    host_one, host_two = padded_host_run(), two["host"]
    assert (host_one["used"], host_two["used"]) == (1, 2)
    assert len(host_two["param"]) == 3 and host_two["saved"] == host_one["saved"] == [3] * 20
    assert len({json.dumps(run) for run in host_two["param"]}) == 3
    np.testing.assert_allclose(host_two["param"], host_one["param"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(host_two["critic"], host_one["critic"], rtol=1e-5)
    ppo_one, ppo_two = padded_ppo_host_run(), two["ppo_host"]
    assert (ppo_one["used"], ppo_two["used"]) == (1, 2) and ppo_two["saved"] == ppo_one["saved"] == [3] * 4
    assert len({json.dumps(run) for run in ppo_two["param"]}) == 3
    np.testing.assert_allclose(ppo_two["param"], ppo_one["param"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ppo_two["loss"], ppo_one["loss"], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("files, cpus", [
    ({"cpu.max": "200000 100000\n"}, 2),
    ({"cpu.max": "150000 100000\n"}, 2),        # 1.5 CPUs: rounded up
    ({"cpu.max": "max 100000\n"}, None),         # no quota
    ({"quota": "50000\n", "period": "100000\n"}, 1),  # cgroup v1
    ({"quota": "-1\n", "period": "100000\n"}, None),
    ({}, None),                                  # nothing to read
])
def test_a_containers_cpu_quota_caps_the_cores(tmp_path, monkeypatch, files, cpus):
    import imitax.cpu_devices as cpu_devices

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(cpu_devices, "CGROUP_QUOTA_FILES",
                        ((str(tmp_path / "cpu.max"), None), (str(tmp_path / "quota"), str(tmp_path / "period"))))
    assert cpu_devices._cgroup_quota() == cpus
    if cpus is not None:
        assert cpu_devices.usable_cores() <= cpus
