"""BC's budget in gradient steps: how many steps it needs from 1 and from 10 expert episodes.

Tasks: CartPole-v1 and Pendulum-v1 (tuning tasks, a PPO expert with default settings,
seed 0) and the held-out point mass of tests/point_mass.py (a Gymnasium env registered
with a class entry point, its NumPy PD expert recorded with a host loop of this script;
no default was tuned on it). For every task, number of expert episodes k (`--demos`) and
seed, the seed draws its own k deterministic expert episodes, then:

- curve: BC with the default config (its `num_steps` aside) evaluated after each of
  `--checkpoints` gradient steps (deterministic policy, 100 episodes, normalised so that
  random = 0 and expert = 1). Nothing in BC depends on the total (constant learning rate,
  minibatches drawn with replacement), so the score after n steps is what
  `BCConfig(num_steps=n)` gives: one run per seed traces the whole budget axis;
- default: `train_bc` with the default config, the score and the wall time.

A last entry trains the defaults on 1,000 Pendulum episodes (200,000 transitions, one
seed): the wall time does not grow with the data. Writes benchmarks/results/bc_budget.json.

    python benchmarks/bc_budget.py [--seeds 3] [--demos 1 10] [--tasks CartPole-v1 Pendulum-v1 PointMass]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import jax
import numpy as np

import imitax
from imitax.algos.bc import BC, BCConfig, train_bc
from imitax.data.rollout import collect_episodes
from imitax.data.types import Trajectory, Transitions, flatten_trajectories
from imitax.eval import evaluate, evaluate_policy, normalized_score, random_policy, seed_statistics
from imitax.io.atomic import atomic_write_json
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import point_mass  # noqa: E402  (the held-out env lives with the tests)

EVAL_EPISODES = 100
CHECKPOINTS = (500, 1_000, 2_000, 3_000, 5_000, 10_000)
CHUNK = 500  # gradient steps per compiled call along the curve; every checkpoint is a multiple


@dataclasses.dataclass
class Task:
    """An environment with reference scores and a recorder of expert episodes."""

    name: str
    env: object  # JaxEnv or GymnasiumEnv, for evaluation
    expert_score: float
    random_score: float
    record: Callable[[int, int], Transitions]  # (episodes, seed) -> flattened expert transitions


def ppo_task(env_id: str) -> Task:
    env = imitax.make(env_id)
    expert = train_ppo(env, PPOConfig.for_env(env_id), seed=0)
    params = seed_slice(expert.state, 0).policy_params

    def expert_fn(key, obs):
        return expert.ppo.policy.act(params, key, obs, deterministic=True)

    def record(episodes: int, seed: int) -> Transitions:
        # seed 0 draws the demonstrations of benchmarks/learning.py (key 3)
        return flatten_trajectories(collect_episodes(env, expert_fn, jax.random.PRNGKey(3 + 1000 * seed), episodes))

    expert_score = evaluate(env, expert_fn, jax.random.PRNGKey(1), EVAL_EPISODES).mean
    random_score = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), EVAL_EPISODES).mean
    return Task(env_id, env, expert_score, random_score, record)


def record_numpy_expert(env_id: str, policy: Callable[[np.ndarray], np.ndarray], episodes: int,
                        seed: int) -> list[Trajectory]:
    """`episodes` episodes of a NumPy policy (one observation -> one action), one after another."""
    env = gym.make(env_id)
    trajectories = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 10_000 + episode)
        observations, actions, rewards = [obs], [], []
        terminated = truncated = False
        while not (terminated or truncated):
            action = np.clip(policy(obs), env.action_space.low, env.action_space.high)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
        trajectories.append(Trajectory(np.asarray(observations, np.float32), np.asarray(actions, np.float32),
                                       np.asarray(rewards, np.float32), bool(terminated)))
    env.close()
    return trajectories


def point_mass_task() -> Task:
    env_id = point_mass.register()
    env = imitax.make(env_id, backend="gymnasium")
    # references: 100 expert episodes on seeds no demonstration uses
    expert_score = float(np.mean([t.episode_return for t in record_numpy_expert(env_id, point_mass.pd_expert,
                                                                                EVAL_EPISODES, seed=999)]))
    random_score = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), EVAL_EPISODES).mean

    def record(episodes: int, seed: int) -> Transitions:
        return flatten_trajectories(record_numpy_expert(env_id, point_mass.pd_expert, episodes, seed))

    return Task("PointMass (held out)", env, expert_score, random_score, record)


def score(task: Task, bc: BC, params: object, seed: int) -> float:
    result = evaluate_policy(task.env, bc.policy, params, jax.random.PRNGKey(100 + seed), EVAL_EPISODES)
    return float(normalized_score(result.mean, task.random_score, task.expert_score))


def budget_curve(task: Task, demos: Transitions, config: BCConfig, seed: int, checkpoints: tuple[int, ...]) -> list[float]:
    """Normalised scores after each number of gradient steps in `checkpoints`, one run.
    Initialised as `train_bc(..., seed=seed)` initialises its single seed, so every point is
    what `train_bc` with that `num_steps` returns (up to floating-point reordering)."""
    bc = BC(config, task.env.spec)
    obs, actions = jax.numpy.asarray(demos.obs), jax.numpy.asarray(demos.actions)
    state = bc.init(jax.random.split(jax.random.PRNGKey(seed), 1)[0], ObsNormalizer.identity(bc.spec.obs_dim).update(obs))
    fit_chunk = jax.jit(lambda state, obs, actions: bc.fit(state, obs, actions, obs.shape[0], CHUNK)[0])
    scores, done = [], 0
    for target in checkpoints:
        while done < target:
            state = fit_chunk(state, obs, actions)
            done += CHUNK
        scores.append(score(task, bc, state.params, seed))
    return scores


def bench_task(task: Task, demo_counts: list[int], seeds: int, checkpoints: tuple[int, ...]) -> dict:
    config = BCConfig(eval_episodes=0)
    out = {"expert_return": task.expert_score, "random_return": task.random_score, "demos": {}}
    for episodes in demo_counts:
        curves, defaults, timings = [], [], []
        for seed in range(seeds):
            demos = task.record(episodes, seed)
            curves.append(budget_curve(task, demos, config, seed, checkpoints))
            result = train_bc(demos, task.env.spec, config, seed=seed)
            defaults.append(score(task, result.bc, seed_slice(result.params, 0), seed))
            timings.append({"compile_s": result.compile_s, "run_s": result.run_s})
            print(f"  {task.name} {episodes} episodes ({len(demos)} transitions) seed {seed}: default {defaults[-1]:.3f}; "
                  f"curve " + " ".join(f"{n}:{s:.3f}" for n, s in zip(checkpoints, curves[-1])), flush=True)
        curve = np.asarray(curves)  # [seeds, checkpoints]
        out["demos"][str(episodes)] = {
            "transitions": len(demos),
            "default": {"num_steps": config.num_steps, **seed_statistics(defaults).to_dict(),
                        "run_s": [t["run_s"] for t in timings], "compile_s": [t["compile_s"] for t in timings]},
            "curve": [{"num_steps": n, "mean": float(curve[:, i].mean()), "min": float(curve[:, i].min()),
                       "values": curve[:, i].tolist()} for i, n in enumerate(checkpoints)],
        }
    return out


def bench_large_dataset(task: Task, episodes: int) -> dict:
    """Defaults on many episodes, one seed: the wall time stays that of the step budget."""
    demos = task.record(episodes, 0)
    start = time.perf_counter()
    result = train_bc(demos, task.env.spec, BCConfig(eval_episodes=0), seed=0)
    wall_s = time.perf_counter() - start
    return {"episodes": episodes, "transitions": len(demos), "score": score(task, result.bc, seed_slice(result.params, 0), 0),
            "wall_s": wall_s, "run_s": result.run_s, "compile_s": result.compile_s,
            "gradient_steps_per_s": result.gradient_steps / result.run_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["CartPole-v1", "Pendulum-v1", "PointMass"])
    parser.add_argument("--demos", nargs="+", type=int, default=[1, 10], help="expert episodes per seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--checkpoints", nargs="+", type=int, default=list(CHECKPOINTS),
                        help=f"gradient steps at which the curve is evaluated (multiples of {CHUNK})")
    parser.add_argument("--large-episodes", type=int, default=1000, help="Pendulum episodes of the wall-time check (0: skip)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/bc_budget.json"))
    args = parser.parse_args()
    if any(n % CHUNK for n in args.checkpoints):
        parser.error(f"--checkpoints must be multiples of {CHUNK}")
    config = BCConfig()
    results = {"seeds": args.seeds, "eval_episodes": EVAL_EPISODES,
               "config": {"num_steps": config.num_steps, "batch_size": config.batch_size,
                          "learning_rate": config.learning_rate, "ent_coef": config.ent_coef, "l2_coef": config.l2_coef,
                          "hidden_sizes": list(config.hidden_sizes)},
               "tasks": {}}
    tasks = {}
    for name in args.tasks:
        start = time.perf_counter()
        tasks[name] = point_mass_task() if name == "PointMass" else ppo_task(name)
        task = tasks[name]
        print(f"{task.name}: expert {task.expert_score:.1f}, random {task.random_score:.1f} "
              f"({time.perf_counter() - start:.0f}s)", flush=True)
        results["tasks"][task.name] = bench_task(task, args.demos, args.seeds, tuple(args.checkpoints))
    if args.large_episodes > 0:
        task = tasks.get("Pendulum-v1") or ppo_task("Pendulum-v1")
        results["large_dataset"] = large = bench_large_dataset(task, args.large_episodes)
        print(f"Pendulum-v1 {large['episodes']} episodes: score {large['score']:.3f}, {large['wall_s']:.1f}s "
              f"({large['run_s']:.1f}s + {large['compile_s']:.1f}s compile)", flush=True)
    atomic_write_json(args.output, results)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
