"""`imitax bench` (and benchmarks/speed.py): training speed against the rollout-only ceiling.

For each environment it measures, in one process: the rollout-only ceiling (policy
forward + sampling + env step, no learning, same batch shape as PPO), PPO, GAIL, AIRL and BC,
each with compile time and run time reported separately, and PPO's update alone; then MCE IRL
on a tabular gridworld (optimiser steps/s). GAIL's and BC's speed does not depend on
the quality of the demonstrations, so the benchmark feeds them 5,000 transitions of a
random policy and needs no expert. Ratios against the ceiling are the figures to compare across machines.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax

from imitax.algos.airl import AIRLConfig, train_airl
from imitax.algos.bc import BCConfig, train_bc
from imitax.algos.gail import GAILConfig, train_gail
from imitax.data.rollout import collect_episodes, reset_jax, rollout_jax
from imitax.data.types import flatten_trajectories
from imitax.envs import make
from imitax.eval import random_policy
from imitax.io.atomic import atomic_write_json
from imitax.rl.ppo import PPO, PPOConfig
from imitax.rl.train import train_ppo


BENCH_DEMO_TRANSITIONS = 5_000


@dataclasses.dataclass
class BenchArgs:
    """Measure compile time, env steps/s and the rollout-only ceiling."""

    envs: tuple[str, ...] = ("CartPole-v1", "Pendulum-v1")
    ppo_steps: int = 1_000_000
    """env steps timed for PPO and GAIL, per environment"""
    bc_steps: int = 2_000
    """BC gradient steps timed"""
    gymnasium_steps: int = 100_000
    """env steps timed for PPO on the Gymnasium backend (0: skip)"""
    output: Path = Path("benchmarks/results/speed.json")
    json: bool = False


def rollout_ceiling(env_id: str, config: PPOConfig, num_rollouts: int) -> dict[str, float]:
    """Env steps/s of acting alone: the PPO policy's forward pass, sampling and the env step."""
    env = make(env_id)
    ppo = PPO(config, env.spec)

    def run(key: jax.Array) -> jax.Array:
        state = ppo.init(key)
        carry = reset_jax(env, key, config.num_envs)

        def one(carry: Any, rollout_key: jax.Array) -> tuple[Any, jax.Array]:
            carry, rollout = rollout_jax(env, partial(ppo.act, state), carry, rollout_key, config.rollout_steps)
            return carry, rollout.transitions.rewards.sum()

        return jax.lax.scan(one, carry, jax.random.split(key, num_rollouts))[1].sum()

    start = time.perf_counter()
    compiled = jax.jit(run).lower(jax.random.PRNGKey(0)).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(compiled(jax.random.PRNGKey(1)))
    run_s = time.perf_counter() - start
    steps = num_rollouts * config.batch_size
    return {"compile_s": compile_s, "run_s": run_s, "env_steps": steps, "env_steps_per_s": steps / run_s}


def update_only(env_id: str, config: PPOConfig, repeats: int = 100) -> dict[str, float]:
    """PPO's update alone (epochs x minibatches of gradient steps) on one fixed rollout,
    expressed as the env steps/s it would allow if acting were free."""
    env = make(env_id)
    ppo = PPO(config, env.spec)
    key = jax.random.PRNGKey(0)
    state = ppo.init(key)
    _, rollout = jax.jit(lambda k: rollout_jax(env, partial(ppo.act, state), reset_jax(env, k, config.num_envs), k,
                                               config.rollout_steps))(key)

    def run(state: Any) -> Any:
        return jax.lax.scan(lambda s, _: (ppo.update(s, rollout, rollout.transitions.rewards)[0], None), state, None,
                            length=repeats)[0]

    start = time.perf_counter()
    compiled = jax.jit(run).lower(state).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(compiled(state))
    run_s = time.perf_counter() - start
    steps = repeats * config.batch_size
    return {"compile_s": compile_s, "run_s": run_s, "env_steps": steps, "env_steps_per_s": steps / run_s,
            "gradient_steps_per_s": repeats * config.num_epochs * config.num_minibatches / run_s}


def training_speed(result: Any) -> dict[str, float]:
    """Compile time, run time and env steps/s of a training result (PPO, GAIL, AIRL, DAgger)."""
    return {"compile_s": result.compile_s, "run_s": result.run_s, "env_steps": result.env_steps,
            "env_steps_per_s": result.env_steps / result.run_s}


def dagger_rounds(env: Any, expert_policy: Any, expert_params: Any) -> dict[str, float]:
    """DAgger rounds (collect 4 episodes, label, aggregate, retrain BC for 300 gradient steps) with the PPO
    policy as the expert; env_steps are the labelled steps (each round also evaluates 10 episodes)."""
    from imitax.algos.dagger import DAggerConfig, train_dagger

    config = DAggerConfig(num_rounds=4, episodes_per_round=4, bc=BCConfig(num_steps=300, eval_episodes=0))
    result = train_dagger(env, lambda key, obs: expert_policy.act(expert_params, key, obs, deterministic=True), config)
    return {**training_speed(result), "rounds": config.num_rounds, "s_per_round": result.run_s / (config.num_rounds + 1)}


def bench_mce_irl(num_steps: int = 3000) -> dict[str, Any]:
    """MCE IRL optimiser steps/s (soft value iteration + forward occupancy + Adam, one seed) on the
    default 8x8 gridworld (50 states, 5 actions, horizon 32), linear and MLP reward, from exact visitation."""
    from imitax.algos.mce_irl import MCEIRLConfig, expert_policy, train_mce_irl
    from imitax.envs.tabular import gridworld
    from imitax.rl.tabular import state_visitation

    mdp = gridworld()
    visits = state_visitation(mdp, expert_policy(mdp))
    out: dict[str, Any] = {"mdp": {"num_states": mdp.num_states, "num_actions": mdp.num_actions, "horizon": mdp.horizon}}
    for model, learning_rate in (("linear", 0.05), ("mlp", 0.01)):
        result = train_mce_irl(mdp, visits, MCEIRLConfig(reward_model=model, learning_rate=learning_rate,
                                                         num_steps=num_steps, log_every=num_steps // 10))
        out[model] = {"compile_s": result.compile_s, "run_s": result.run_s, "steps": num_steps,
                      "steps_per_s": result.steps_per_s}
    return out


def bench_env(env_id: str, args: BenchArgs) -> dict[str, Any]:
    env = make(env_id)
    ppo_config = PPOConfig.for_env(env_id, total_steps=args.ppo_steps)
    out: dict[str, Any] = {"rollout_ceiling": rollout_ceiling(env_id, ppo_config, ppo_config.num_updates),
                           "ppo_update_only": update_only(env_id, ppo_config)}

    ppo = train_ppo(env, ppo_config)
    out["ppo"] = training_speed(ppo)

    # 5,000 transitions (10 CartPole expert episodes' worth) from random-policy episodes
    demos = flatten_trajectories(collect_episodes(env, random_policy(env.spec), jax.random.PRNGKey(0), 250))
    demos = jax.tree.map(lambda x: x[:BENCH_DEMO_TRANSITIONS], demos)
    gail_config = GAILConfig.for_env(env_id, ppo={"total_steps": args.ppo_steps})
    gail = train_gail(env, demos, gail_config)
    out["gail"] = training_speed(gail)

    airl = train_airl(env, demos, AIRLConfig.for_env(env_id, ppo={"total_steps": args.ppo_steps}))
    out["airl"] = training_speed(airl)
    # the cost of training the reward for reuse (replay reservoir, and on Pendulum a separate
    # reward network), measured against the same run without it
    airl = train_airl(env, demos, AIRLConfig.for_env(env_id, ppo={"total_steps": args.ppo_steps}, separate_reward=False,
                                                     disc_replay_size=0, disc_anneal_lr=False))
    out["airl_plain"] = training_speed(airl)

    bc_config = BCConfig(num_steps=args.bc_steps, log_every=args.bc_steps, eval_episodes=0)
    bc = train_bc(demos, env.spec, bc_config)
    out["bc"] = {"compile_s": bc.compile_s, "run_s": bc.run_s, "gradient_steps": bc.gradient_steps,
                 "gradient_steps_per_s": bc.gradient_steps / bc.run_s, "batch_size": bc_config.batch_size}
    out["dagger"] = dagger_rounds(env, ppo.ppo.policy, jax.tree.map(lambda x: x[0], ppo.state.policy_params))

    if args.gymnasium_steps > 0:
        host = train_ppo(make(env_id, backend="gymnasium"), PPOConfig.for_env(env_id, total_steps=args.gymnasium_steps))
        out["ppo_gymnasium"] = training_speed(host)

    ceiling = out["rollout_ceiling"]["env_steps_per_s"]
    out["ratios_to_ceiling"] = {name: out[name]["env_steps_per_s"] / ceiling
                                for name in ("ppo", "gail", "airl", "ppo_gymnasium") if name in out}
    # acting and learning timed apart bound what the compiled loop can do; the ratio is loop overhead
    bound = 1.0 / (1.0 / ceiling + 1.0 / out["ppo_update_only"]["env_steps_per_s"])
    out["ppo_vs_act_plus_update_bound"] = out["ppo"]["env_steps_per_s"] / bound
    return out


def run_bench(args: BenchArgs) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "jax": jax.__version__,
                    "devices": [str(d) for d in jax.devices()]},
        "settings": {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
                     for k, v in dataclasses.asdict(args).items()},
        "envs": {},
    }
    for env_id in args.envs:
        results["envs"][env_id] = bench_env(env_id, args)
        if not args.json:
            print(format_env(env_id, results["envs"][env_id]), flush=True)
    results["mce_irl"] = bench_mce_irl()
    if not args.json:
        print("MCE IRL, 8x8 gridworld (50 states, horizon 32)")
        for model in ("linear", "mlp"):
            r = results["mce_irl"][model]
            print(f"  {model:16s} {r['steps_per_s']:>12,.0f} optimiser steps/s  compile {r['compile_s']:5.1f}s"
                  f"   run {r['run_s']:6.2f}s", flush=True)
    atomic_write_json(args.output, results)
    if args.json:
        print(json.dumps(results, default=float))
    else:
        print(f"wrote {args.output}")
    return results


def format_env(env_id: str, r: dict[str, Any]) -> str:
    rows = [f"{env_id}"]
    for name in ("rollout_ceiling", "ppo_update_only", "ppo", "gail", "airl", "airl_plain", "ppo_gymnasium"):
        if name in r:
            ratio = r["ratios_to_ceiling"].get(name)
            extra = f"  ({ratio:.0%} of ceiling)" if ratio is not None else ""
            rows.append(f"  {name:16s} {r[name]['env_steps_per_s']:>12,.0f} env steps/s   compile {r[name]['compile_s']:5.1f}s"
                        f"   run {r[name]['run_s']:6.1f}s{extra}")
    rows.append(f"  ppo at {r['ppo_vs_act_plus_update_bound']:.0%} of the bound set by acting + updating timed apart")
    rows.append(f"  {'bc':16s} {r['bc']['gradient_steps_per_s']:>12,.0f} grad steps/s  compile {r['bc']['compile_s']:5.1f}s"
                f"   run {r['bc']['run_s']:6.1f}s  (batch {r['bc']['batch_size']})")
    if "dagger" in r:
        rows.append(f"  {'dagger':16s} {r['dagger']['env_steps_per_s']:>12,.0f} labelled env steps/s (collect + label + "
                    f"retrain)  compile {r['dagger']['compile_s']:5.1f}s   {r['dagger']['s_per_round']:.2f}s per round")
    return "\n".join(rows)


