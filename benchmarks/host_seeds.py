"""Several seeds of GAIL on a Gymnasium environment: stepped together against one after another.

A user's own Gymnasium task runs GAIL, AIRL and PPO through the host loop. With `--num-seeds 3`
its runs now step together: one vector env holds every run's copies, each env step acts for
every run in one vmapped call, and each iteration updates every run in one vmapped call. The
same seeds trained one after another (each `train_gail(..., seed=s)` alone, which is what the
loop did before) are the baseline, measured in the same process, the two interleaved.
Reported: wall time (compile included), the time after the first iteration, and the ratio;
each run's last-iteration training return, together and alone, to show they are the same runs.
Writes benchmarks/results/host_seeds.json.

    python benchmarks/host_seeds.py [--env CartPole-v1] [--total-steps 49152] [--seeds 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import imitax  # noqa: E402
from heldout import record_demos  # noqa: E402
from imitax.algos.gail import GAILConfig, train_gail  # noqa: E402
from imitax.compile_cache import enable_compilation_cache  # noqa: E402
from imitax.data.types import flatten_trajectories  # noqa: E402
from imitax.io.atomic import atomic_write_json  # noqa: E402


def timed(train) -> dict:
    start = time.perf_counter()
    results = train()
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 2), "compile_s": round(sum(r.compile_s for r in results), 2),
            "run_s": round(sum(r.run_s for r in results), 2),
            "last_return": [round(float(v), 2) for r in results for v in r.history["episode_return"][:, -1]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--total-steps", type=int, default=49_152)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/host_seeds.json"))
    args = parser.parse_args()
    enable_compilation_cache()
    demos = flatten_trajectories(record_demos(args.env, 10)[0].trajectories)
    env = imitax.make(args.env, backend="gymnasium")
    config = GAILConfig.for_env(args.env, ppo={"total_steps": args.total_steps})
    together = lambda: [train_gail(env, demos, config, seed=0, num_seeds=args.seeds)]  # noqa: E731
    apart = lambda: [train_gail(env, demos, config, seed=s) for s in range(args.seeds)]  # noqa: E731
    timed(lambda: [train_gail(env, demos, config, seed=0, num_seeds=args.seeds), train_gail(env, demos, config)])  # warm
    rounds = []
    for repeat in range(args.repeats):
        row = {"together": timed(together), "one_after_another": timed(apart)}
        row["wall_ratio"] = round(row["one_after_another"]["wall_s"] / row["together"]["wall_s"], 2)
        row["run_ratio"] = round(row["one_after_another"]["run_s"] / row["together"]["run_s"], 2)
        rounds.append(row)
        print(f"repeat {repeat}: together {row['together']['wall_s']:.1f} s (after compile {row['together']['run_s']:.1f} s), "
              f"one after another {row['one_after_another']['wall_s']:.1f} s ({row['one_after_another']['run_s']:.1f} s): "
              f"{row['wall_ratio']:.2f}x wall, {row['run_ratio']:.2f}x after compile; last training return together "
              f"{row['together']['last_return']}, alone {row['one_after_another']['last_return']}", flush=True)
    atomic_write_json(args.output, {"env": args.env, "backend": "gymnasium", "algo": "gail", "seeds": args.seeds,
                                    "total_steps": args.total_steps, "rounds": rounds,
                                    "devices": [str(d) for d in jax.local_devices()],
                                    "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores"})


if __name__ == "__main__":
    main()
