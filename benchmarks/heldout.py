"""Out-of-sample benchmark: default settings on tasks no default was tuned on.

Protocol (the README's benchmark section): the adversarial methods' defaults (one generator
PPO, one discriminator setting, one reward) were chosen on the tuning set only; the
held-out set is measured with those defaults as they are. Per-task settings are budgets
(env steps) only. For every task: an expert (an imitax PPO expert, a checkpoint shipped in
benchmarks/experts/, or a NumPy controller) is recorded with `imitax.collect` like a user
would, which also measures the reference scores (100 expert and 100 random episodes); then
BC, GAIL and AIRL train from 10 demos and from 1 (the first of the 10), `--seeds` seeds
each, and every seed is evaluated over `--eval-episodes` episodes (deterministic actions).
Writes benchmarks/results/heldout.json (other tasks' figures are kept).

The held-out set has served to choose between candidate defaults, so a third set, the
**fresh** tasks of benchmarks/fresh_tasks.py, was written after the last default changed and
measured once; nothing is tuned on it.

    python benchmarks/heldout.py [--envs Acrobot-v1 ...] [--seeds 5] [--demos 10 1] [--algos bc gail airl]
    python benchmarks/heldout.py --processes 16 ...   # a many-core machine: one process per seed on
                                                      # Gymnasium tasks, merged into --output
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import imitax
from imitax.algos.airl import AIRLConfig, train_airl
from imitax.algos.bc import BCConfig, train_bc
from imitax.algos.gail import GAILConfig, train_gail
from imitax.data.minari_io import Demonstrations, load_demonstrations
from imitax.data.types import flatten_trajectories
from imitax.eval import evaluate, normalized_score, seed_statistics
from imitax.io.atomic import atomic_write_json
from imitax.io.policy_checkpoint import load_policy
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import point_mass  # noqa: E402  (the tests' own env: registered with a class entry point)

import fresh_tasks  # noqa: E402  (benchmarks/: two more users' own envs, written after the defaults were fixed)

TUNING = ("CartPole-v1", "Pendulum-v1")
HELD_OUT = ("Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "InvertedDoublePendulum-v5", "Reacher-v5",
            point_mass.ENV_ID)
FRESH = tuple(fresh_tasks.EXPERTS)
GYMNAX = ("CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0")
EXPERTS_DIR = Path(__file__).resolve().parent / "experts"
ALGOS = ("bc", "gail", "airl")

HostPolicy = Callable[[np.ndarray], np.ndarray]


def expert_policy(env_id: str) -> tuple[HostPolicy, str]:
    """A batched NumPy policy obs[n, obs_dim] -> actions[n, ...] and where it came from."""
    if env_id == point_mass.ENV_ID:
        return point_mass.pd_expert, "NumPy PD controller (tests/point_mass.py)"
    if env_id in fresh_tasks.EXPERTS:
        return fresh_tasks.EXPERTS[env_id]
    if env_id in GYMNAX:
        env = imitax.make(env_id)
        result = train_ppo(env, PPOConfig.for_env(env_id), seed=0)
        policy, params = result.ppo.policy, seed_slice(result.state, 0).policy_params
        source = "imitax PPO expert (PPOConfig.for_env, seed 0)"
    else:
        policy, params, _ = load_policy(EXPERTS_DIR / env_id)
        source = f"shipped checkpoint benchmarks/experts/{env_id}"
    act = jax.jit(lambda obs: policy.clip(policy.act(params, jax.random.PRNGKey(0), obs, deterministic=True)))
    return (lambda obs: np.asarray(act(jnp.asarray(obs, jnp.float32)))), source


def make_env(env_id: str):
    return imitax.make(env_id, backend="jax" if env_id in GYMNAX else "gymnasium")


def seed_scores(env, policy, stacked_params, num_seeds: int, random_score: float, expert_score: float,
                episodes: int, first_seed: int = 0) -> list[float]:
    out = []
    for index in range(num_seeds):
        params = seed_slice(stacked_params, index)
        result = evaluate(env, lambda k, o, p=params: policy.act(p, k, o, deterministic=True),
                          jax.random.PRNGKey(100 + first_seed + index), episodes)
        out.append(round(float(normalized_score(result.mean, random_score, expert_score)), 4))
    return out


def record_demos(env_id: str, episodes: int, root: Path | None = None) -> tuple[Demonstrations, str]:
    """`episodes` expert episodes recorded with `imitax.collect` (reference scores included)
    and loaded back; and where the expert came from. With `root`, the Minari root is kept
    there and a recording already in it is loaded instead (`--processes` records each task's
    expert once for all its processes); without, a temporary root."""
    if root is None:
        with tempfile.TemporaryDirectory() as temporary:
            return record_demos(env_id, episodes, Path(temporary))
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    source_file = root / "expert_source.txt"
    if not source_file.is_file():
        policy, source = expert_policy(env_id)
        imitax.collect(env_id, policy, episodes=episodes, dataset_id="bench/expert-v0", batched=True,
                       reference_episodes=100)
        source_file.write_text(source)
    return load_demonstrations("bench/expert-v0"), source_file.read_text()


def bench_env(env_id: str, num_seeds: int, demo_counts: list[int], algos: list[str], eval_episodes: int,
              first_seed: int = 0, demos_root: Path | None = None) -> dict:
    start = time.perf_counter()
    demos, source = record_demos(env_id, max(demo_counts), demos_root)
    expert_score, random_score = demos.expert_score, demos.random_score
    out: dict = {"expert_source": source, "expert_return": expert_score, "random_return": random_score,
                 "expert_s": round(time.perf_counter() - start, 1), "tuning_set": env_id in TUNING}
    print(f"{env_id}: expert {expert_score:.1f} ({source}), random {random_score:.1f}", flush=True)
    env = make_env(env_id)
    for count in demo_counts:
        transitions = flatten_trajectories(demos.trajectories[:count])
        for algo in algos:
            start = time.perf_counter()
            if algo == "bc":
                result = train_bc(transitions, env.spec, BCConfig(), seed=first_seed, num_seeds=num_seeds)
                policy_net, params, steps = result.bc.policy, result.params, None
            else:
                config_type, trainer = (GAILConfig, train_gail) if algo == "gail" else (AIRLConfig, train_airl)
                result = trainer(env, transitions, config_type.for_env(env_id), seed=first_seed, num_seeds=num_seeds)
                policy_net = result.algo.ppo.policy
                params, steps = jax.vmap(lambda s: s.policy_params)(result.state.ppo), result.env_steps
            train_s = time.perf_counter() - start
            scores = seed_scores(env, policy_net, params, num_seeds, random_score, expert_score, eval_episodes, first_seed)
            stats = seed_statistics(scores).to_dict()
            out[f"{algo}_{count}demos"] = {**stats, "train_s": round(train_s, 1), "env_steps_per_seed": steps,
                                           "first_seed": first_seed, "measured": time.strftime("%Y-%m-%d")}
            if algo != "bc":
                out[f"{algo}_{count}demos"]["generator_learning_rate"] = config_type().ppo.learning_rate
                out[f"{algo}_{count}demos"]["generator_target_kl"] = config_type().ppo.target_kl
            print(f"  {algo:4s} {count:2d} demos: {stats['mean']:.3f} per seed {scores} ({train_s:.0f}s)", flush=True)
    return out


def markdown_table(results: dict) -> str:
    """Mean normalised score per task and method, per-seed scores in brackets, as Markdown. A
    GAIL or AIRL cell measured with another generator learning rate or KL target than today's
    defaults is marked with it (rows from before 2026-11-27 record neither: 3e-4, fixed), and one
    measured with the discriminator's rate constant (rows from before 2026-11-28 do not record
    `disc_anneal_lr`: constant) is marked "constant disc. lr"."""
    default_rate, default_target = GAILConfig().ppo.learning_rate, GAILConfig().ppo.target_kl
    columns = [f"{algo}_{count}demos" for count in (10, 1) for algo in ALGOS]
    lines = ["| task | expert / random | " + " | ".join(c.replace("_", ", ").replace("demos", " demos").upper()
                                                     for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for env_id, entry in results["envs"].items():
        split = "tuning" if entry.get("tuning_set") else "fresh" if env_id in FRESH else "held out"
        cells = []
        for column in columns:
            stats = entry.get(column)
            if stats is None:
                cells.append("-")
                continue
            cell = f"{stats['mean']:.3f} [{', '.join(f'{v:.2f}' for v in stats['values'])}]"
            if not column.startswith("bc"):
                rate, target = stats.get("generator_learning_rate", 3e-4), stats.get("generator_target_kl", 0.0)
                if (rate, target) != (default_rate, default_target):
                    cell += f" (policy lr {rate:g}, " + (f"KL target {target:g})" if target else "fixed)")
                if not stats.get("disc_anneal_lr", False):
                    cell += " (constant disc. lr)"
            cells.append(cell)
        lines.append(f"| {env_id} ({split}) | {entry['expert_return']:.1f} / {entry['random_return']:.1f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def merge(parts: list[dict]) -> dict:
    """One result from runs of the same tasks on disjoint seeds (`--first-seed`, e.g. one
    process per seed on a many-core machine): per task and column, the seeds' scores in
    seed order, statistics recomputed, train times summed."""
    merged: dict = {"tuning_set": list(TUNING), "held_out_set": list(HELD_OUT), "fresh_set": list(FRESH), "envs": {}}
    for part in parts:
        for env_id, entry in part["envs"].items():
            target = merged["envs"].setdefault(env_id, {})
            for key, value in entry.items():
                if not (isinstance(value, dict) and "values" in value):
                    target.setdefault(key, value)
                    continue
                runs = target.setdefault(key, {"runs": []})["runs"]
                runs.append(value)
    for entry in merged["envs"].values():
        seeds = 0
        for key, value in list(entry.items()):
            if isinstance(value, dict) and "runs" in value:
                runs = sorted(value["runs"], key=lambda run: run.get("first_seed", 0))
                scores = [score for run in runs for score in run["values"]]
                entry[key] = {**seed_statistics(scores).to_dict(), "train_s": round(sum(run["train_s"] for run in runs), 1),
                              "env_steps_per_seed": runs[0]["env_steps_per_seed"], "first_seed": runs[0].get("first_seed", 0),
                              "processes": len(runs)}
                seeds = max(seeds, len(scores))
        entry["seeds"] = seeds
    return merged


def merge_into(output: Path, parts: list[Path]) -> None:
    """Merge result files of disjoint seeds into `output`, keeping its other tasks and columns."""
    merged = merge([json.loads(path.read_text()) for path in parts])
    earlier = json.loads(output.read_text()) if output.is_file() else {"envs": {}}
    envs = {env_id: {**earlier["envs"].get(env_id, {}), **entry} for env_id, entry in merged["envs"].items()}
    results = {**merged, "envs": {**earlier["envs"], **envs}}
    atomic_write_json(output, results)
    print(markdown_table(results))
    print(f"wrote {output}")


def run_in_processes(args: argparse.Namespace) -> None:
    """`--processes N`: one process per task, method and demo count, and per seed on host-loop
    (Gymnasium) tasks, whose seeds do not share a compiled program; JAX tasks vmap their
    seeds in one process. Each process is single-threaded; the parts are merged into --output."""
    jobs = []
    for count in args.demos:  # the first demo count's jobs start first
        for env_id in args.envs:
            seed_groups = [(args.first_seed, args.seeds)] if env_id in GYMNAX else \
                [(args.first_seed + index, 1) for index in range(args.seeds)]
            for algo in args.algos:
                for first, num in (seed_groups if algo != "bc" else [(args.first_seed, args.seeds)]):
                    jobs.append([env_id, algo, str(count), str(first), str(num)])
    parts_dir = args.parts_dir or Path(tempfile.mkdtemp(prefix="heldout-parts-"))
    parts_dir.mkdir(parents=True, exist_ok=True)
    roots = {env_id: parts_dir / "demos" / env_id.replace("/", "_") for env_id in args.envs}
    for env_id, root in roots.items():  # each expert trained and recorded once, not once per process
        root.mkdir(parents=True, exist_ok=True)
        record_demos(env_id, max(args.demos), root)
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
           "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                         " intra_op_parallelism_threads=1").strip()}

    def run(index: int, job: list[str]) -> Path:
        env_id, algo, count, first, num = job
        part = parts_dir / f"part-{index}.json"
        command = [sys.executable, __file__, "--envs", env_id, "--algos", algo, "--demos", count, "--first-seed", first,
                   "--seeds", num, "--eval-episodes", str(args.eval_episodes), "--output", str(part),
                   "--demos-root", str(roots[env_id])]
        with open(parts_dir / f"part-{index}.log", "w") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        print(f"[{index + 1}/{len(jobs)}] {' '.join(job)}: exit {code}", flush=True)
        return part

    with concurrent.futures.ThreadPoolExecutor(args.processes) as pool:
        parts = [path for path in pool.map(run, range(len(jobs)), jobs) if path.is_file()]
    merge_into(args.output, parts)
    print(f"{len(parts)} of {len(jobs)} processes finished; logs in {parts_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=[*TUNING, *HELD_OUT, *FRESH])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--demos", nargs="+", type=int, default=[10, 1])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/heldout.json"))
    parser.add_argument("--processes", type=int, default=1,
                        help="run tasks, methods, demo counts and (on Gymnasium tasks) seeds as this many parallel "
                             "single-threaded processes, then merge")
    parser.add_argument("--demos-root", type=Path, help=argparse.SUPPRESS)  # set by --processes: the recorded expert
    parser.add_argument("--parts-dir", type=Path, help="with --processes: where each process writes its part and log")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--table", action="store_true", help="print the saved results as a Markdown table and stop")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="PART",
                        help="combine results of disjoint seeds (--first-seed) into --output, keeping its other tasks, and stop")
    args = parser.parse_args()
    if args.merge:
        merge_into(args.output, args.merge)
        return
    if args.table:
        print(markdown_table(json.loads(args.output.read_text())))
        return
    if args.processes > 1:
        run_in_processes(args)
        return
    earlier = json.loads(args.output.read_text()) if args.output.is_file() else {}
    results = {"tuning_set": list(TUNING), "held_out_set": list(HELD_OUT), "fresh_set": list(FRESH),
               "envs": earlier.get("envs", {})}
    for env_id in args.envs:
        entry = bench_env(env_id, args.seeds, args.demos, args.algos, args.eval_episodes, args.first_seed,
                          args.demos_root)
        results["envs"][env_id] = {**results["envs"].get(env_id, {}), **entry, "seeds": args.seeds}
        atomic_write_json(args.output, results)  # after every task: a long run keeps what it measured
    print(markdown_table(results))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
