"""Search benchmark: does Optuna's TPE search find better GAIL settings than random points at the same cost?

GAIL on CartPole-v1 from 10 demos, searching its discriminator and policy learning rates over
wide log ranges (`--ranges`): `--num-samples` points x `--seeds` seeds each, by random points
(all drawn at once: one vmapped program) and by `search="optuna"` (the same number of points in
`--rounds` rounds, each round one program). Each search is repeated for sample seeds 0, 1, ...
(`--repeats`). A search's best point by its own scores (mean over its seeds, `--search-episodes`
episodes) is the setting a user would take; the best score a search reports is biased upwards
(the winner of many noisy means), so the chosen point is trained again on fresh seeds (100,
101, ...) and scored over 50 episodes: that is the figure the searches are compared on. Wall
seconds of each search too, and how good its points are on the whole (their mean score, the share at 0.9 or
more: TPE should spend its later rounds near the good ones). Writes benchmarks/results/search.json.

    python benchmarks/search.py [--steps 100000] [--repeats 3] [--demos-root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from heldout import record_demos
from imitax.cpu_devices import use_cpu_cores

FRESH_SEED = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--num-samples", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search-episodes", type=int, default=20)
    parser.add_argument("--ranges", nargs="+", default=["disc_learning_rate=1e-5:1e-1", "ppo.learning_rate=1e-5:1e-2"])
    parser.add_argument("--demos-root", type=Path, help="a Minari root holding (or to hold) the recorded expert")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/search.json"))
    args = parser.parse_args()
    use_cpu_cores()  # before JAX starts, as the `imitax` command does

    import jax

    import imitax
    from imitax.algos.gail import GAILConfig
    from imitax.api.sweep_space import parse_assignments
    from imitax.compile_cache import enable_compilation_cache
    from imitax.io.atomic import atomic_write_json

    enable_compilation_cache()
    root = args.demos_root or Path(tempfile.mkdtemp())
    demos, source = record_demos(args.env, 10, root)
    config = GAILConfig.for_env(args.env, ppo={"total_steps": args.steps})
    ranges = {field: [float(bound) for bound in bounds]
              for field, bounds in parse_assignments(args.ranges, "--sample").items()}  # what --sample reads
    out: dict = {"measured": time.strftime("%Y-%m-%d"), "machine": os.environ.get("IMITAX_BENCH_MACHINE", "2-core CPU"),
                 "devices": jax.local_device_count(), "env_id": args.env, "env_steps_per_run": args.steps, "seeds": args.seeds,
                 "num_samples": args.num_samples, "rounds": args.rounds, "search_episodes": args.search_episodes,
                 "ranges": ranges, "expert_source": source,
                 "searches": []}
    for repeat in range(args.repeats):
        for search in ("random", "optuna"):
            start = time.perf_counter()
            sweep = imitax.sweep("gail", args.env, demos, sample=ranges, num_samples=args.num_samples, config=config,
                                 num_seeds=args.seeds, sample_seed=repeat, search=search, rounds=args.rounds,
                                 search_episodes=args.search_episodes)
            scores = sweep.evaluate(episodes=args.search_episodes)
            wall = time.perf_counter() - start
            means = scores.means
            best = int(np.nanargmax(means))
            point = sweep.points[best]
            fresh = imitax.sweep("gail", args.env, demos, grid={field: [value] for field, value in point.items()},
                                 config=config, seed=FRESH_SEED, num_seeds=args.seeds).evaluate(episodes=50)
            row = {"search": search, "sample_seed": repeat, "wall_s": round(wall, 1),
                   "points": [{**p, "mean": None if not np.isfinite(m) else float(m), "round": r}
                              for p, m, r in zip(sweep.points, means, sweep.rounds or (0,) * len(means))],
                   "best_point": point, "best_search_mean": float(means[best]),
                   "best_fresh_mean": float(fresh.means[0]), "best_fresh_per_seed": fresh.to_dict()["points"][0]["per_seed"],
                   "diverged": int(np.sum(~np.isfinite(means)))}
            out["searches"].append(row)
            print(f"{search} (sample seed {repeat}): {wall:.0f} s, best {point} search mean {means[best]:.3f}, "
                  f"fresh seeds {fresh.means[0]:.3f}", flush=True)
            atomic_write_json(args.output, summarise(out))
    print(json.dumps(summarise(out)["summary"], indent=1))
    print(f"wrote {args.output}")


def summarise(out: dict) -> dict:
    summary = {}
    for search in ("random", "optuna"):
        rows = [row for row in out["searches"] if row["search"] == search]
        if rows:
            scores = [[point["mean"] for point in row["points"] if point["mean"] is not None] for row in rows]
            summary[search] = {"best_fresh_means": [row["best_fresh_mean"] for row in rows],
                               "mean_of_points": [float(np.mean(values)) for values in scores],
                               "points_at_0.9": [float(np.mean(np.asarray(values) >= 0.9)) for values in scores],
                               "mean_best_fresh": float(np.mean([row["best_fresh_mean"] for row in rows])),
                               "best_search_means": [row["best_search_mean"] for row in rows],
                               "wall_s": [row["wall_s"] for row in rows]}
    return {**out, "summary": summary}


if __name__ == "__main__":
    main()
