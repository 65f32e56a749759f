"""Learning benchmark: BC, GAIL and AIRL from 10 expert episodes, several seeds, default settings.

For each environment: train a PPO expert (default settings), measure it and a random
policy over 100 episodes (the reference scores), collect 10 deterministic expert
episodes, then train BC, GAIL and AIRL with `num_seeds` seeds in one program each and
evaluate every seed over 100 episodes. Writes benchmarks/results/learning.json.

    python benchmarks/learning.py [--seeds 5] [--envs CartPole-v1 Pendulum-v1] [--backend jax]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax

import imitax
from imitax.algos.airl import AIRLConfig, train_airl
from imitax.algos.bc import BCConfig, train_bc
from imitax.algos.gail import GAILConfig, train_gail
from imitax.data.rollout import collect_episodes
from imitax.data.types import flatten_trajectories
from imitax.eval import evaluate, normalized_score, random_policy, seed_statistics
from imitax.io.atomic import atomic_write_json
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo

THRESHOLDS = {"CartPole-v1": {"bc": 0.95, "gail": 0.95, "airl": 0.9}, "Pendulum-v1": {"bc": 0.8, "gail": 0.8, "airl": 0.8}}
ALGOS = ("bc", "gail", "airl")


def scores(env, policy, stacked_params, num_seeds, random_score, expert_score):
    out = []
    for index in range(num_seeds):
        params = seed_slice(stacked_params, index)
        result = evaluate(env, lambda k, o, p=params: policy.act(p, k, o, deterministic=True), jax.random.PRNGKey(100 + index), 100)
        out.append(float(normalized_score(result.mean, random_score, expert_score)))
    return out


def bench_env(env_id: str, num_seeds: int, backend: str) -> dict:
    env = imitax.make(env_id)
    start = time.perf_counter()
    expert = train_ppo(env, PPOConfig.for_env(env_id), seed=0)
    expert_s = time.perf_counter() - start
    params = seed_slice(expert.state, 0).policy_params

    def expert_fn(key, obs):
        return expert.ppo.policy.act(params, key, obs, deterministic=True)

    expert_score = evaluate(env, expert_fn, jax.random.PRNGKey(1), 100).mean
    random_score = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), 100).mean
    demos = flatten_trajectories(collect_episodes(env, expert_fn, jax.random.PRNGKey(3), 10))
    train_env = imitax.make(env_id, backend=backend)

    start = time.perf_counter()
    bc = train_bc(demos, env.spec, BCConfig(), seed=0, num_seeds=num_seeds)
    bc_s = time.perf_counter() - start
    start = time.perf_counter()
    gail = train_gail(train_env, demos, GAILConfig.for_env(env_id), seed=0, num_seeds=num_seeds)
    gail_s = time.perf_counter() - start
    gail_params = jax.vmap(lambda s: s.policy_params)(gail.state.ppo)
    start = time.perf_counter()
    airl = train_airl(train_env, demos, AIRLConfig.for_env(env_id), seed=0, num_seeds=num_seeds)
    airl_s = time.perf_counter() - start
    airl_params = jax.vmap(lambda s: s.policy_params)(airl.state.ppo)

    result = {
        "expert_return": expert_score, "random_return": random_score, "expert_train_s": expert_s,
        "demo_transitions": int(len(demos)),
        "bc": {**seed_statistics(scores(env, bc.bc.policy, bc.params, num_seeds, random_score, expert_score)).to_dict(),
               "wall_s": bc_s},
        "gail": {**seed_statistics(scores(env, gail.algo.ppo.policy, gail_params, num_seeds, random_score, expert_score)).to_dict(),
                 "wall_s": gail_s, "env_steps_per_seed": gail.env_steps},
        "airl": {**seed_statistics(scores(env, airl.algo.ppo.policy, airl_params, num_seeds, random_score, expert_score)).to_dict(),
                 "wall_s": airl_s, "env_steps_per_seed": airl.env_steps},
        "thresholds": THRESHOLDS.get(env_id, {}),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--backend", default="jax", choices=["jax", "gymnasium"])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/learning.json"))
    args = parser.parse_args()
    earlier = json.loads(args.output.read_text()) if args.output.is_file() else {}  # other envs keep their figures
    results = {"seeds": args.seeds, "backend": args.backend, "envs": earlier.get("envs", {})}
    for env_id in args.envs:
        r = bench_env(env_id, args.seeds, args.backend)
        results["envs"][env_id] = r
        print(f"{env_id}: expert {r['expert_return']:.1f}, random {r['random_return']:.1f}")
        for algo in ALGOS:
            s = r[algo]
            print(f"  {algo:5s} normalised {s['mean']:.3f} ± {s['std']:.3f} (95% CI {s['ci95'][0]:.3f}..{s['ci95'][1]:.3f}), "
                  f"min {min(s['values']):.3f}, threshold {r['thresholds'].get(algo)}, {s['wall_s']:.1f}s", flush=True)
    atomic_write_json(args.output, results)
    print(f"wrote {args.output}")
    print(json.dumps({e: {a: results['envs'][e][a]['mean'] for a in ALGOS} for e in args.envs}))


if __name__ == "__main__":
    main()
