"""Robustness benchmark: how far the adversarial defaults can be off before imitation fails.

GAIL and AIRL from 10 demos on two tuning tasks (CartPole-v1, Pendulum-v1) and two
held-out ones (Acrobot-v1, MountainCar-v0 by default), over a 3x3 grid: the discriminator's
learning rate x the policy's (PPO) learning rate, each at 1/3x, 1x and 3x its default. Each
task/method's grid is one `imitax.sweep`: 9 points x `--seeds` seeds vmapped in one compiled
program (the robustness.json rows before 2026-11-27 ran one program per point, the same keys);
reported per point: the mean
normalised score (random = 0, expert = 1) and the per-seed scores, and per task/method the
fraction of points whose mean is >= 0.9. Writes benchmarks/results/robustness.json and
robustness.png (one heatmap per task/method).

    python benchmarks/robustness.py [--envs CartPole-v1 ...] [--algos gail airl] [--seeds 3] [--demos-root DIR]
                                    [--keep-as SUFFIX]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from heldout import make_env, record_demos, seed_scores
import imitax
from imitax.algos.airl import AIRLConfig
from imitax.algos.gail import GAILConfig
from imitax.io.atomic import atomic_write_json

FACTORS = (1 / 3, 1.0, 3.0)
CONFIGS = {"gail": GAILConfig, "airl": AIRLConfig}


def grid(env, env_id: str, demos, algo: str, num_seeds: int, eval_episodes: int) -> list[list[list[float]]]:
    """Per-seed scores [disc factor][policy factor][seed]: the 9 points x `num_seeds` seeds as
    one `imitax.sweep` (one program, vmapped; each point's seeds trained as `train_gail(...,
    seed=0, num_seeds)` trains them)."""
    config = CONFIGS[algo].for_env(env_id)
    sweep = imitax.sweep(algo, env, demos, config=config, num_seeds=num_seeds, grid={
        "disc_learning_rate": [config.disc_learning_rate * f for f in FACTORS],
        "ppo.learning_rate": [config.ppo.learning_rate * f for f in FACTORS]})
    scores = []
    for result in sweep.results:  # disc factor major, as the grid lists them
        params = jax.tree.map(lambda *seeds: np.stack(seeds), *result.policy_params)
        scores.append(seed_scores(env, result.policy_net, params, num_seeds, demos.random_score, demos.expert_score,
                                  eval_episodes))
    return [scores[row * len(FACTORS):(row + 1) * len(FACTORS)] for row in range(len(FACTORS))]


def draw(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(env_id, algo) for env_id, entry in results["envs"].items() for algo in entry if algo in CONFIGS]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.7), squeeze=False)
    labels = ["1/3x", "1x", "3x"]
    for ax, (env_id, algo) in zip(axes[0], panels):
        means = np.asarray(results["envs"][env_id][algo]["mean_grid"])
        ax.imshow(means, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower")
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{means[i, j]:.2f}", ha="center", va="center", color="white" if means[i, j] < 0.6 else "black")
        ax.set_xticks(range(3), labels)
        ax.set_yticks(range(3), labels)
        ax.set_xlabel("policy learning rate")
        ax.set_ylabel("discriminator learning rate")
        share = results["envs"][env_id][algo]["fraction_at_least_0.9"]
        note = results["envs"][env_id][algo].get("defaults_note", "")
        note = f"\n{note.strip()}" if note else ""
        ax.set_title(f"{algo.upper()} {env_id}{note}\n{share:.0%} of points >= 0.9", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0"])
    parser.add_argument("--algos", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/robustness.json"))
    parser.add_argument("--demos-root", type=Path,
                        help="a folder of Minari roots, one per env id, holding (or to hold) each task's recorded expert")
    parser.add_argument("--keep-as", metavar="SUFFIX",
                        help="keep each grid this run replaces as <algo>_SUFFIX (e.g. the grid of an earlier default)")
    args = parser.parse_args()
    earlier = json.loads(args.output.read_text()) if args.output.is_file() else {}
    results = {"factors": list(FACTORS), "seeds": args.seeds, "envs": earlier.get("envs", {})}
    if args.keep_as is not None:
        if not args.keep_as.strip():
            parser.error("--keep-as needs a non-empty suffix")
        taken = [f"{env_id} {algo}_{args.keep_as}" for env_id in args.envs for algo in args.algos
                 if f"{algo}_{args.keep_as}" in results["envs"].get(env_id, {})]
        if taken:
            parser.error(f"--keep-as {args.keep_as!r} would overwrite {', '.join(taken)}; expected a new suffix")
    for env_id in args.envs:
        demos, source = record_demos(env_id, 10, args.demos_root / env_id if args.demos_root else None)
        env = make_env(env_id)
        entry = results["envs"].setdefault(env_id, {})
        entry.update({"expert_source": source, "expert_return": demos.expert_score, "random_return": demos.random_score})
        for algo in args.algos:
            start = time.perf_counter()
            scores = grid(env, env_id, demos, algo, args.seeds, args.eval_episodes)
            means = np.mean(np.asarray(scores), axis=-1)
            defaults = CONFIGS[algo].for_env(env_id).resolved(env.spec)  # the grid's centre, None fields resolved
            if args.keep_as is not None and algo in entry:
                entry[f"{algo}_{args.keep_as}"] = entry[algo]
            entry[algo] = {"seed_scores": scores, "mean_grid": np.round(means, 4).tolist(),
                           "fraction_at_least_0.9": float(np.mean(means >= 0.9)), "wall_s": round(time.perf_counter() - start),
                           "measured": time.strftime("%Y-%m-%d"),
                           "defaults": {"disc_learning_rate": defaults.disc_learning_rate,
                                        "policy_learning_rate": defaults.ppo.learning_rate,
                                        "disc_anneal_lr": defaults.disc_anneal_lr}}
            print(f"{env_id} {algo}: {entry[algo]['fraction_at_least_0.9']:.0%} of points >= 0.9; "
                  f"means (rows: disc lr 1/3x, 1x, 3x; columns: policy lr) {entry[algo]['mean_grid']}", flush=True)
            atomic_write_json(args.output, results)
    draw(results, args.output.with_suffix(".png"))
    print(f"wrote {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
