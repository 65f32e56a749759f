"""Reward transfer: train a fresh PPO agent on GAIL's and AIRL's learned rewards alone.

For each environment: a PPO expert and 10 demonstrations; GAIL and AIRL with `--seeds`
seeds; then, for every seed's learned reward, a fresh PPO agent trained from scratch on
that reward (a) in the original environment and (b) in changed dynamics (Pendulum with
other mass and gravity, CartPole with a heavier, longer pole). The fresh agent is PPO with
the task's tuned settings plus reward scaling (`normalize_rewards`, what `imitax train rl`
uses). Scores are true returns normalised against a random policy and an expert trained
on the same dynamics: for the changed dynamics the best of 3 PPO seeds trained twice as
long. Writes benchmarks/results/reward_transfer.json.

    python benchmarks/reward_transfer.py [--seeds 5] [--envs Pendulum-v1 CartPole-v1] [--algos gail airl]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax

import imitax
from imitax.algos.airl import REWARD_KEEPING_DISC_LEARNING_RATE, AIRLConfig, train_airl
from imitax.algos.gail import GAILConfig, train_gail
from imitax.data.rollout import collect_episodes
from imitax.data.types import flatten_trajectories
from imitax.eval import evaluate, normalized_score, random_policy, seed_statistics
from imitax.io.atomic import atomic_write_json
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo

CHANGED_DYNAMICS = {"Pendulum-v1": {"m": 1.3, "g": 12.0}, "CartPole-v1": {"masspole": 0.2, "total_mass": 1.2, "length": 0.7, "polemass_length": 0.14}}


def expert_and_reference(env, seeds: int = 1, length: int = 1) -> tuple:
    """The best of `seeds` PPO experts trained `length` times the tuned steps: (act fn, its return, random's)."""
    config = PPOConfig.for_env(env.spec.env_id)
    result = train_ppo(env, dataclasses.replace(config, total_steps=length * config.total_steps), seed=0, num_seeds=seeds)
    best_fn, expert = None, -float("inf")
    for index in range(seeds):
        params = seed_slice(result.state, index).policy_params

        def expert_fn(key, obs, params=params):
            return result.ppo.policy.act(params, key, obs, deterministic=True)

        score = evaluate(env, expert_fn, jax.random.PRNGKey(1), 100).mean
        if score > expert:
            best_fn, expert = expert_fn, score
    random = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), 100).mean
    return best_fn, expert, random


def fresh_agent_score(env, reward_fn, random, expert) -> float:
    config = PPOConfig.for_env(env.spec.env_id, normalize_rewards=True)
    result = train_ppo(env, config, seed=7, reward_fn=reward_fn)
    params = seed_slice(result.state, 0).policy_params
    ret = evaluate(env, lambda k, o: result.ppo.policy.act(params, k, o, deterministic=True), jax.random.PRNGKey(3), 100).mean
    return float(normalized_score(ret, random, expert))


def train_method(name: str, env, demos, seeds: int):
    """GAIL with its defaults, or AIRL with the reward-keeping discriminator rate."""
    env_id = env.spec.env_id
    if name == "gail":
        return train_gail(env, demos, GAILConfig.for_env(env_id), num_seeds=seeds)
    return train_airl(env, demos, AIRLConfig.for_env(env_id, disc_learning_rate=REWARD_KEEPING_DISC_LEARNING_RATE),
                      num_seeds=seeds)


def bench_env(env_id: str, seeds: int, algos: list[str]) -> dict:
    env = imitax.make(env_id)
    changed = env.with_params(**CHANGED_DYNAMICS[env_id])
    expert_fn, expert, random = expert_and_reference(env)
    _, changed_expert, changed_random = expert_and_reference(changed, seeds=3, length=2)
    demos = flatten_trajectories(collect_episodes(env, expert_fn, jax.random.PRNGKey(4), 10))
    out = {"changed_dynamics": CHANGED_DYNAMICS[env_id],
           "reference": {"original": {"expert": expert, "random": random},
                         "changed": {"expert": changed_expert, "random": changed_random}}}
    for name in algos:
        trained = train_method(name, env, demos, seeds)
        algo = trained.algo
        original, transfer = [], []
        for index in range(seeds):
            disc_params = seed_slice(algo.saved_reward_params(trained.state), index)
            if name == "airl":
                reward_fn = lambda tr, p=disc_params: algo.learned_reward(p, tr)  # noqa: E731
            else:
                reward_fn = lambda tr, p=disc_params: algo.reward(  # noqa: E731
                    seed_slice(trained.state, index).replace(disc_params=p), tr)
            original.append(fresh_agent_score(env, reward_fn, random, expert))
            transfer.append(fresh_agent_score(changed, reward_fn, changed_random, changed_expert))
        out[name] = {"original_dynamics": seed_statistics(original).to_dict(),
                     "changed_dynamics": seed_statistics(transfer).to_dict()}
        print(f"{env_id} {name}: fresh PPO on the learned reward: original {out[name]['original_dynamics']['mean']:.3f} "
              f"{[round(x, 3) for x in original]}, changed dynamics {out[name]['changed_dynamics']['mean']:.3f} "
              f"{[round(x, 3) for x in transfer]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1", "CartPole-v1"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--algos", nargs="+", default=["gail", "airl"], choices=["gail", "airl"])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/reward_transfer.json"))
    args = parser.parse_args()
    # Environments and methods not rerun keep their earlier figures.
    earlier = json.loads(args.output.read_text()) if args.output.is_file() else {}
    envs = earlier.get("envs", {})
    for env_id in args.envs:
        envs[env_id] = {**envs.get(env_id, {}), **bench_env(env_id, args.seeds, args.algos)}
    atomic_write_json(args.output, {**earlier, "seeds": args.seeds, "envs": envs})
    print(json.dumps({e: {a: envs[e][a]["original_dynamics"]["mean"] for a in args.algos} for e in args.envs}))


if __name__ == "__main__":
    main()
