"""Expert benchmark: `imitax expert ENV` with its defaults on every built-in task, several seeds.

Each seed is one run of the command's own code path (`run_expert` with `--seed s`), so the
figures are what a user gets. Reports per seed the mean return over 100 deterministic
episodes, a random policy's return, the solved level (Gymnasium's `reward_threshold`) and
wall time. Writes benchmarks/results/experts.json.

    python benchmarks/experts.py [--seeds 3] [--envs MountainCar-v0 ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from imitax.commands.common import RunOptions
from imitax.commands.expert import ExpertArgs, run_expert
from imitax.envs.registry import GYMNAX_IDS
from imitax.io.atomic import atomic_write_json

RESULTS = Path(__file__).parent / "results" / "experts.json"


def bench_seed(env_id: str, seed: int, runs_dir: Path) -> dict:
    options = RunOptions(seed=seed, runs_dir=runs_dir, progress=False, eval_episodes=100)
    args = dataclasses.replace(ExpertArgs.defaults(env_id), options=options, allow_weak_expert=True)
    start = time.perf_counter()
    out = run_expert(args)  # allow_weak_expert: a weak seed is a row of the table, not an exception
    return {"seed": seed, "mean_return": out["mean_return"], "std_return": out["std_return"],
            "random_return": out["reference"]["random"], "solved_level": out["reference"]["solved"],
            "solved": out["solved"], "beats_random": out["beats_random"], "env_steps": out["env_steps"],
            "wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--envs", nargs="+", default=list(GYMNAX_IDS))
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as runs_dir:
        for env_id in args.envs:
            rows = [bench_seed(env_id, seed, Path(runs_dir)) for seed in range(args.seeds)]
            results[env_id] = {"ppo": dataclasses.asdict(ExpertArgs.defaults(env_id).ppo), "seeds": rows,
                               "solved_seeds": sum(bool(row["solved"]) for row in rows)}
            print(env_id, [round(row["mean_return"], 1) for row in rows], f"random {rows[0]['random_return']:.1f}",
                  f"solved {rows[0]['solved_level']}", f"{sum(row['wall_s'] for row in rows):.0f}s", flush=True)
            atomic_write_json(RESULTS, results)  # after every task, so a long run keeps what it measured


if __name__ == "__main__":
    main()
