"""MCE IRL benchmark: exact expert visitation and the scaling with sampled demonstrations.

Metric: the policy that is optimal (hard value iteration) under the learned reward, its
exact expected TRUE return, as a ratio of the optimal expert's true return and
normalised (uniform random policy = 0, expert = 1). All returns are exact (no rollouts).

1. Default 8x8 gridworld (walls, two pits... see imitax.envs.tabular.DEFAULT_LAYOUT,
   slip 0.1, horizon 32, start S): learn from the expert's exact state visitation, with a
   linear and an MLP reward, `--seeds` seeds each.
2. Scaling: for each number of sampled expert episodes (1 ... 200) and each of `--seeds`
   seeds, learn from the empirical visitation of that seed's first N episodes (the sets
   are nested per seed). Settings: the gridworld above (start S), the same gridworld with
   a uniformly random start cell (linear and MLP reward), and a random MDP (50 states,
   4 actions, branching 5, 8 features, reward linear in them, horizon 20). All counts x
   seeds of one setting train together in one vmapped program.
3. The random MDP from its exact visitation.

Writes benchmarks/results/mce_irl.json, mce_irl_scaling.png, mce_irl_heatmap.png.

    python benchmarks/mce_irl.py [--seeds 5] [--steps 500]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from imitax.algos.mce_irl import (MCEIRLConfig, References, empirical_visitation, expert_policy, sample_demonstrations,
                                  train_mce_irl)
from imitax.envs.tabular import TabularMDP, gridworld, random_mdp
from imitax.eval import seed_statistics
from imitax.io.atomic import atomic_write_json
from imitax.io.plots import plot_reward_heatmaps, plot_scaling
from imitax.rl.tabular import state_visitation

RESULTS = Path(__file__).parent / "results"
COUNTS = (1, 2, 5, 10, 20, 50, 100, 200)
MLP_LEARNING_RATE = 0.01


def configs(steps: int) -> dict[str, MCEIRLConfig]:
    return {"linear": MCEIRLConfig(num_steps=steps),
            "mlp": MCEIRLConfig(reward_model="mlp", learning_rate=MLP_LEARNING_RATE, num_steps=steps)}


def summarise(result, seconds: float) -> dict:
    final = result.final
    return {
        "return_ratio": seed_statistics(final["return_ratio"].tolist()).to_dict(),
        "normalized_return": seed_statistics(final["normalized_return"].tolist()).to_dict(),
        "occupancy_gap": float(np.mean(final["occupancy_gap"])),
        "reward_correlation": float(np.mean(final["reward_correlation"])),
        "compile_s": result.compile_s, "train_s": result.run_s, "wall_s": seconds,
        "steps_per_s_all_seeds": result.steps_per_s,
    }


def exact(mdp: TabularMDP, config: MCEIRLConfig, seeds: int) -> tuple[dict, np.ndarray]:
    start = time.perf_counter()
    result = train_mce_irl(mdp, state_visitation(mdp, expert_policy(mdp)), config, seed=0, num_seeds=seeds)
    return summarise(result, time.perf_counter() - start), result.learned_reward[0]


def scaling(mdp: TabularMDP, config: MCEIRLConfig, seeds: int) -> tuple[dict, np.ndarray]:
    """Per count: statistics over seeds of the final normalised return and return ratio."""
    expert = expert_policy(mdp)
    demos = [sample_demonstrations(mdp, expert, jax.random.PRNGKey(1000 + seed), max(COUNTS)) for seed in range(seeds)]
    visits = [empirical_visitation(jax.tree.map(lambda x, n=n: x[:n], demos[seed]), mdp.num_states)
              for n in COUNTS for seed in range(seeds)]
    start = time.perf_counter()
    result = train_mce_irl(mdp, jnp.stack(visits), config, seed=0, num_seeds=len(visits))
    seconds = time.perf_counter() - start
    normalized = result.final["normalized_return"].reshape(len(COUNTS), seeds)
    ratio = result.final["return_ratio"].reshape(len(COUNTS), seeds)
    rows = {str(n): {"normalized_return": seed_statistics(normalized[i].tolist()).to_dict(),
                     "return_ratio": seed_statistics(ratio[i].tolist()).to_dict()} for i, n in enumerate(COUNTS)}
    rewards = result.learned_reward.reshape(len(COUNTS), seeds, -1)
    return {"by_num_demos": rows, "wall_s": seconds, "compile_s": result.compile_s, "train_s": result.run_s,
            "runs_in_one_program": len(visits)}, rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500, help="optimiser steps per run")
    args = parser.parse_args()
    cfg = configs(args.steps)

    grid = gridworld()
    grid_random_start = gridworld(random_start=True)
    rand = random_mdp()
    mdps = {"gridworld": grid, "gridworld_random_start": grid_random_start, "random_mdp": rand}
    out: dict = {
        "settings": {"seeds": args.seeds, "optimizer_steps": args.steps, "num_demos": list(COUNTS),
                     "linear": dataclasses.asdict(cfg["linear"]), "mlp": dataclasses.asdict(cfg["mlp"]),
                     "expert": "optimal (hard value iteration under the true reward)",
                     "demos": "per seed, the first N of 200 sampled expert episodes (nested sets)"},
        "mdps": {name: {**mdp.describe(), **dataclasses.asdict(References.of(mdp, expert_policy(mdp)))}
                 for name, mdp in mdps.items()},
        "exact": {}, "scaling": {},
    }
    learned = {}
    for name, mdp in (("gridworld", grid), ("random_mdp", rand)):
        for model in ("linear", "mlp"):
            key = f"{name}/{model}"
            out["exact"][key], learned[key] = exact(mdp, cfg[model], args.seeds)
            r = out["exact"][key]
            print(f"exact  {key:24s} return ratio {r['return_ratio']['mean']:.4f} (min {min(r['return_ratio']['values']):.4f})"
                  f"  normalised {r['normalized_return']['mean']:.4f}  occupancy gap {r['occupancy_gap']:.4f}"
                  f"  {r['steps_per_s_all_seeds']:,.0f} steps/s  compile {r['compile_s']:.1f}s", flush=True)

    series = {}
    scaling_rewards = {}
    for name, mdp, model in (("gridworld", grid, "linear"), ("gridworld_random_start", grid_random_start, "linear"),
                             ("gridworld_random_start", grid_random_start, "mlp"), ("random_mdp", rand, "linear")):
        key = f"{name}/{model}"
        out["scaling"][key], scaling_rewards[key] = scaling(mdp, cfg[model], args.seeds)
        rows = out["scaling"][key]["by_num_demos"]
        print(f"scaling {key} ({out['scaling'][key]['wall_s']:.1f}s for {out['scaling'][key]['runs_in_one_program']} runs)")
        print("   demos  normalised mean [95% CI]       return ratio mean", flush=True)
        for n in COUNTS:
            s, q = rows[str(n)]["normalized_return"], rows[str(n)]["return_ratio"]
            print(f"   {n:5d}  {s['mean']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]        {q['mean']:.3f}")
        series[key.replace("_", " ").replace("/", ", ")] = {
            "mean": [rows[str(n)]["normalized_return"]["mean"] for n in COUNTS],
            "low": [rows[str(n)]["normalized_return"]["ci95"][0] for n in COUNTS],
            "high": [rows[str(n)]["normalized_return"]["ci95"][1] for n in COUNTS]}

    RESULTS.mkdir(exist_ok=True)
    plot_scaling(RESULTS / "mce_irl_scaling.png", list(COUNTS), series, "expert episodes (per seed)",
                 "normalised true return of the policy\noptimal under the learned reward",
                 f"MCE IRL from sampled demonstrations ({args.seeds} seeds, mean and 95% CI)",
                 hlines={"expert": 1.0, "random": 0.0})
    ten = COUNTS.index(10)
    plot_reward_heatmaps(RESULTS / "mce_irl_heatmap.png", {
        "true reward": grid.on_grid(grid.true_reward),
        "learned, linear (exact visitation)": grid.on_grid(learned["gridworld/linear"]),
        "learned, MLP (exact visitation)": grid.on_grid(learned["gridworld/mlp"]),
        "learned, linear (10 demos, seed 0)": grid.on_grid(scaling_rewards["gridworld/linear"][ten, 0]),
    }, "MCE IRL on the default 8x8 gridworld (slip 0.1, horizon 32): true vs learned reward", layout=grid.layout)
    atomic_write_json(RESULTS / "mce_irl.json", out)
    print(f"wrote {RESULTS / 'mce_irl.json'}, mce_irl_scaling.png, mce_irl_heatmap.png")


if __name__ == "__main__":
    main()
