"""Sweep benchmark: one `imitax sweep` call against the separate commands it replaces.

A 3x3 grid (GAIL's discriminator learning rate x its policy's, 1/3x, 1x, 3x the defaults)
x 3 seeds on CartPole-v1 from 10 demos, 200k env steps per run: one `imitax sweep gail` call
(the 27 runs vmapped in one program) against 27 `imitax train gail` commands (one per point
and seed), measured in the same run, each a fresh process as a user would start it, with the
same persistent compilation cache, filled first by one sweep and one command (a sweep with an
empty cache is reported too). The sweep splits its runs over one JAX device per core (`imitax.cpu_devices`).
Writes benchmarks/results/sweep.json.

    python benchmarks/sweep.py [--steps 200000] [--demos-root .dev/demos/CartPole-v1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from heldout import record_demos
from imitax.algos.gail import GAILConfig
from imitax.io.atomic import atomic_write_json

FACTORS = (1 / 3, 1.0, 3.0)


def imitax_command(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    """Wall seconds of `imitax ARGS --json` in a fresh process, and its JSON result."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "imitax.cli", *args, "--json", "--no-progress"], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"imitax {' '.join(args)} failed: {done.stderr.strip()}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def summary(args: argparse.Namespace, sweep_wall: float, sweep: dict, separate: list[dict], planned: int) -> dict:
    """The benchmark's figures so far: `separate` holds the commands measured of `planned`; while
    some are missing, the separate side is extrapolated at their mean wall time (and says so)."""
    measured = sum(run["wall_s"] for run in separate)
    separate_wall = measured * planned / len(separate)
    return {
        "measured": time.strftime("%Y-%m-%d"), "machine": os.environ.get("IMITAX_BENCH_MACHINE", "2-core CPU"),
        "env_id": "CartPole-v1", "env_steps_per_run": args.steps, "points": planned // args.seeds, "seeds": args.seeds,
        "sweep_wall_s": round(sweep_wall, 1), "sweep_compile_s": round(sweep["compile_s"], 1),
        "sweep_train_s": round(sweep["train_s"], 1), "sweep_wall_time": sweep.get("wall_time"),
        "sweep_cold_cache": sweep.get("cold"), "cpu_devices": sweep.get("devices"),
        "separate_commands_measured": len(separate), "separate_commands_planned": planned,
        "separate_wall_s": round(separate_wall, 1),
        "separate_wall_s_measured": round(measured, 1),
        "separate_compile_s": round(sum(run["compile_s"] for run in separate), 1),
        "separate_train_s": round(sum(run["train_s"] for run in separate), 1),
        "speedup": round(separate_wall / sweep_wall, 2),
        "sweep_points": [{k: row[k] for k in ("disc_learning_rate", "ppo.learning_rate", "mean", "per_seed")}
                         for row in sweep["points"]],
        "separate_runs": separate,
        "sweep_mean_score": float(np.mean([row["mean"] for row in sweep["points"]])),
        "separate_mean_score": float(np.mean([run["normalized_score"] for run in separate])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--demos-root", type=Path, help="a Minari root holding (or to hold) the recorded expert")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/sweep.json"))
    args = parser.parse_args()
    root = args.demos_root or Path(tempfile.mkdtemp())
    record_demos("CartPole-v1", 10, root)
    env = {**os.environ, "MINARI_DATASETS_PATH": str(root)}
    base = GAILConfig.for_env("CartPole-v1")
    disc = [base.disc_learning_rate * f for f in FACTORS]
    policy = [base.ppo.learning_rate * f for f in FACTORS]
    common = ["CartPole-v1", "--demos", "bench/expert-v0", "--gail.ppo.total-steps", str(args.steps),
              "--eval-episodes", str(args.eval_episodes)]
    sweep_args = ["sweep", "gail", *common, "--grid", "gail.disc-learning-rate=" + ",".join(f"{v:.6g}" for v in disc),
                  "gail.ppo.learning-rate=" + ",".join(f"{v:.6g}" for v in policy), "--num-seeds", str(args.seeds)]

    def separate_args(d: float, p: float, seed: int) -> list[str]:
        return ["train", "gail", *common, "--gail.disc-learning-rate", f"{d:.6g}", "--gail.ppo.learning-rate",
                f"{p:.6g}", "--seed", str(seed)]

    with tempfile.TemporaryDirectory() as runs:
        # Both sides are measured with their programs in the cache, as for a user's second sweep or
        # second command: one of each first, not counted. The sweep is also timed with an empty cache.
        with tempfile.TemporaryDirectory() as empty_cache:
            cold_wall, cold = imitax_command([*sweep_args, "--runs-dir", runs],
                                             {**env, "IMITAX_COMPILATION_CACHE": empty_cache})
        imitax_command([*sweep_args, "--runs-dir", runs], env)
        print(f"one sweep call, cold cache: {cold_wall:.1f} s (compile {cold['compile_s']:.1f} s)", flush=True)
        imitax_command([*separate_args(disc[0], policy[0], 0), "--runs-dir", runs], env)
        sweep_wall, sweep = imitax_command([*sweep_args, "--runs-dir", runs], env)
        programs = json.loads((Path(sweep["run_dir"]) / "sweep.json").read_text())["programs"]
        sweep["devices"] = max(program["devices"] for program in programs)
        sweep["cold"] = {"wall_s": round(cold_wall, 1), "compile_s": round(cold["compile_s"], 1),
                         "wall_time": cold.get("wall_time")}
        print(f"one sweep call: {sweep_wall:.1f} s (compile {sweep['compile_s']:.1f} s, train {sweep['train_s']:.1f} s)",
              flush=True)
        separate: list[dict] = []
        planned = len(disc) * len(policy) * args.seeds
        for d in disc:
            for p in policy:
                for seed in range(args.seeds):
                    wall, out = imitax_command([*separate_args(d, p, seed), "--runs-dir", runs], env)
                    separate.append({"disc_learning_rate": d, "policy_learning_rate": p, "seed": seed, "wall_s": wall,
                                     "compile_s": out["compile_s"], "train_s": out["train_s"],
                                     "normalized_score": out["normalized_score"]})
                    print(f"  separate command {len(separate)}/{planned}: {wall:.1f} s", flush=True)
                    # written after every command, so a run cut short keeps what it measured
                    result = summary(args, sweep_wall, sweep, separate, planned)
                    atomic_write_json(args.output, result)
    print(f"{planned} separate commands: {result['separate_wall_s']:.1f} s; one sweep: {sweep_wall:.1f} s; speedup "
          f"{result['speedup']}x; mean score {result['sweep_mean_score']:.3f} (sweep) vs "
          f"{result['separate_mean_score']:.3f} (separate)")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
