"""What the persistent compilation cache saves a user: one `imitax train gail` command, one
`imitax train bc` command and one `imitax train gail --backend gymnasium` command (the host loop
a user's own env runs on, 50k env steps), each run twice with a fresh cache folder (cold, then warm) and once
with the cache off, as separate processes like a user's; wall time of the whole command and
where it went (the `wall_time` breakdown the command reports: import, load, train, evaluate,
save, plot, other, and the compile time inside them). The expert's demonstrations are
recorded first (not timed). Writes benchmarks/results/compile_cache.json.

    python benchmarks/compile_cache.py [--env CartPole-v1] [--total-steps 200000] [--gymnasium-steps 50000]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import record_demos  # noqa: E402

from imitax.io.atomic import atomic_write_json  # noqa: E402


def timed_command(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall time of `imitax ARGS --json` in a fresh process, and the breakdown it reports."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "imitax.cli", *args, "--json", "--no-progress"], env=env,
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": round(wall, 2), "compile_s": round(result["wall_time"]["compile_s"], 2),
            "train_s": round(result["train_s"], 2), "breakdown": result["wall_time"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--total-steps", type=int, default=200_000)
    parser.add_argument("--gymnasium-steps", type=int, default=50_000, help="GAIL's env steps on the Gymnasium backend")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/compile_cache.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        record_demos(args.env, 10, Path(scratch) / "datasets")  # sets MINARI_DATASETS_PATH for the commands
        common = [args.env, "--demos", "bench/expert-v0", "--runs-dir", str(Path(scratch) / "runs")]
        commands = {"gail": ["train", "gail", *common, "--gail.ppo.total-steps", str(args.total_steps)],
                    "bc": ["train", "bc", *common],
                    # a user's own env runs on the Gymnasium backend: the host loop with act and update compiled
                    "gail_gymnasium": ["train", "gail", *common, "--backend", "gymnasium",
                                       "--gail.ppo.total-steps", str(args.gymnasium_steps)]}
        env = {**os.environ, "IMITAX_COMPILATION_CACHE": str(Path(scratch) / "cache")}
        results = {}
        for name, command in commands.items():
            runs = {"cold": timed_command(command, env), "warm": timed_command(command, env),
                    "off": timed_command(command, {**env, "IMITAX_COMPILATION_CACHE": "off"})}
            ratio = runs["warm"]["wall_s"] / runs["cold"]["wall_s"]
            results[name] = {"command": " ".join(["imitax", *command[:3], "..."]), "runs": runs,
                             "warm_over_cold": round(ratio, 3)}
            for kind, run in runs.items():
                parts = ", ".join(f"{key[:-2]} {value:.1f}" for key, value in run["breakdown"].items() if key != "total_s")
                print(f"{name} {kind}: whole command {run['wall_s']:.1f} s ({parts})")
            print(f"{name} warm / cold whole command: {ratio:.2f}")
    atomic_write_json(args.output, {"env": args.env, "gail_total_steps": args.total_steps,
                                    "gail_gymnasium_total_steps": args.gymnasium_steps, "commands": results,
                                    "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores"})


if __name__ == "__main__":
    main()
