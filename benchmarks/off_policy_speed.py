"""Off-policy speed: SAC gradient steps/s, and the off-policy loop against its act + update bound.

For each task, with SAC's defaults (256x256 networks, batch 256, one env, one gradient step
per env step), measured in one run so the ratios compare like with like:
- update only: `SAC.update` on replay batches, scanned under one jit (gradient steps/s);
- act only: the policy acting and the environment stepping, no learning (env steps/s; on a
  JAX task a compiled rollout, on a Gymnasium one the host loop with a jitted act);
- the loop: `train_sac` from the first step (`learning_starts=0`), env steps/s after compile;
- the bound: one act + one update per env step, 1 / (1/act + 1/update), and the loop's
  share of it (the target is >= 70%);
- on a Gymnasium task, `--seeds` runs stepped together (one vector env, one vmapped update
  per iteration, the runs split over a device per core as the CLI's) against the same runs one
  after another (the loop an env instance given alone gets), and one run each way.
Writes benchmarks/results/off_policy_speed.json.

    python benchmarks/off_policy_speed.py [--envs Pendulum-v1 Hopper-v5] [--steps 3000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from imitax.cpu_devices import use_cpu_cores

use_cpu_cores()  # as the CLI does: a JAX device per core, over which runs stepped together split

import gymnasium  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import imitax  # noqa: E402
from imitax.data.replay import ReplayBuffer
from imitax.data.rollout import HostRollout, reset_jax, rollout_jax
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.io.atomic import atomic_write_json
from imitax.rl.off_policy import random_actions, train_sac
from imitax.rl.sac import SAC, SACConfig

GYMNAX = ("CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0")


def machine_label() -> str:
    """What ran the benchmark: JAX's first device and the host's CPU count."""
    device = jax.devices()[0]
    return f"{device.platform} ({device.device_kind}), {os.cpu_count()} CPU cores"


def update_rate(sac: SAC, steps: int) -> float:
    """Gradient steps/s of `SAC.update` on uniformly random transitions in a full buffer."""
    spec, c = sac.spec, sac.config
    key = jax.random.PRNGKey(0)
    n = 10_000
    obs = jax.random.normal(key, (n, spec.obs_dim))
    actions = random_actions(spec, key, n)
    flags = jnp.zeros(n, bool)
    replay = ReplayBuffer.allocate(Transitions(obs[:1], actions[:1], jnp.zeros(1), obs[:1], flags[:1], flags[:1]), n)
    replay = replay.add(Transitions(obs, actions, jax.random.normal(key, (n,)), obs[::-1], flags, flags))

    @jax.jit
    def run(state, key):
        def step(state, step_key):
            batch = replay.sample(step_key, c.batch_size)
            return sac.update(state, batch, batch.rewards)[0], None
        return jax.lax.scan(step, state, jax.random.split(key, steps))[0]

    state = sac.init(key)
    jax.block_until_ready(run(state, key))  # compile
    start = time.perf_counter()
    jax.block_until_ready(run(state, jax.random.PRNGKey(1)))
    return steps / (time.perf_counter() - start)


def act_rate(env, sac: SAC, steps: int) -> float:
    """Env steps/s of the policy acting alone (one env)."""
    state = sac.init(jax.random.PRNGKey(0))
    act = lambda key, obs: sac.act(state, key, obs)  # noqa: E731
    if isinstance(env, JaxEnv):
        run = jax.jit(lambda key: rollout_jax(env, act, reset_jax(env, key, 1), key, steps)[1].transitions.rewards)
        jax.block_until_ready(run(jax.random.PRNGKey(0)))
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(1)))
        return steps / (time.perf_counter() - start)
    host = HostRollout(env.with_num_envs(1), 0)
    act_jit = jax.jit(act)
    host.collect(act_jit, jax.random.PRNGKey(0), 10)  # compile
    start = time.perf_counter()
    host.collect(act_jit, jax.random.PRNGKey(1), steps)
    return steps / (time.perf_counter() - start)


def bench(env_id: str, steps: int) -> dict:
    env = imitax.make(env_id, backend="jax" if env_id in GYMNAX else "gymnasium")
    config = SACConfig(total_steps=steps, learning_starts=0)
    sac = SAC(config, env.spec)
    updates = update_rate(sac, steps)
    acting = act_rate(env, sac, steps)
    result = train_sac(env, config, seed=0)
    loop = result.env_steps / result.run_s
    bound = 1.0 / (1.0 / acting + 1.0 / updates)
    out = {"backend": env.backend if hasattr(env, "backend") else "jax", "gradient_steps_per_s": updates,
           "act_env_steps_per_s": acting, "loop_env_steps_per_s": loop, "bound_env_steps_per_s": bound,
           "loop_share_of_bound": loop / bound, "loop_compile_s": result.compile_s, "steps": steps}
    print(f"{env_id}: SAC update {updates:,.0f} gradient steps/s; acting {acting:,.0f} env steps/s; loop "
          f"{loop:,.0f} env steps/s = {loop / bound:.0%} of the act + update bound {bound:,.0f}", flush=True)
    return out


def seeds_together(env_id: str, steps: int, seeds: int) -> dict:
    """Env steps/s over all runs, after compile: `seeds` runs stepped together against the same
    runs one after another (an env instance given alone, which the loop does not copy), and a
    single run on each path (the stepped path vmaps even one run)."""
    config = SACConfig(total_steps=steps, learning_starts=0)
    copies, alone = GymnasiumEnv(env_id), GymnasiumEnv(gymnasium.make(env_id))
    assert copies.makes_copies and not alone.makes_copies
    out: dict = {"seeds": seeds, "devices": len(jax.local_devices())}
    for label, env, runs in (("one_run_stepped", copies, 1), ("one_run_alone", alone, 1),
                             ("together", copies, seeds), ("one_after_another", alone, seeds)):
        result = train_sac(env, config, seed=0, num_seeds=runs)
        out[label] = {"runs": runs, "run_s": round(result.run_s, 2), "compile_s": round(result.compile_s, 2),
                      "env_steps_per_s_all_runs": runs * steps / result.run_s}
    rate = {label: out[label]["env_steps_per_s_all_runs"] for label in
            ("one_run_stepped", "one_run_alone", "together", "one_after_another")}
    out["together_against_one_after_another"] = rate["together"] / rate["one_after_another"]
    out["one_run_stepped_against_alone"] = rate["one_run_stepped"] / rate["one_run_alone"]
    print(f"{env_id}, env steps/s over all runs: {seeds} runs together {rate['together']:,.0f}, one after another "
          f"{rate['one_after_another']:,.0f} ({out['together_against_one_after_another']:.2f}x); one run "
          f"{rate['one_run_stepped']:,.0f} stepped, {rate['one_run_alone']:,.0f} alone", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1", "Hopper-v5"])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=3, help="runs stepped together on Gymnasium tasks (0: skip)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/off_policy_speed.json"))
    args = parser.parse_args()
    results = {"machine": machine_label(), "date": time.strftime("%Y-%m-%d"),
               "envs": {env_id: bench(env_id, args.steps) for env_id in args.envs}}
    if args.seeds:
        results["seeds_together"] = {env_id: seeds_together(env_id, args.steps, args.seeds)
                                     for env_id in args.envs if env_id not in GYMNAX}
    atomic_write_json(args.output, results)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
