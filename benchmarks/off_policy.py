"""Off-policy imitation benchmark: DAC, SQIL, IQ-Learn and AIRL with the SAC generator
("airl-sac") against GAIL, final score and env steps to 0.9; offline IQ-Learn against BC on
the same demos.

For each task the expert is recorded as in benchmarks/heldout.py (`record_demos`: an imitax
PPO expert or a shipped checkpoint, 100 reference episodes each for expert and random);
each method trains from 10 demos and from the first of them with its defaults, `--seeds`
seeds (vmapped on JAX tasks), and every seed is evaluated over `--eval-episodes` episodes
(deterministic actions). "Env steps to 0.9" is, per seed, the first point where the mean
return of the training episodes of the last 5% of the run so far, normalised (random = 0,
expert = 1), reaches 0.9; training episodes use the stochastic policy, so it is a
conservative figure. The offline methods ("iq-learn-offline", "bc") never step the
environment: their row has no env steps, only gradient steps. Online rows also keep, per seed,
the mean training return over each tenth of the run (`training_return_per_tenth`), which shows
whether a run was still rising, flat or decaying when it stopped. Writes
benchmarks/results/off_policy.json after every row (other tasks' and methods' rows kept).

    python benchmarks/off_policy.py [--envs CartPole-v1 Pendulum-v1] [--algos dac sqil iq-learn gail] [--demos 10 1] [--seeds 3]
    python benchmarks/off_policy.py --table
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import jax
import numpy as np

from imitax.algos.airl import AIRLConfig, train_airl
from imitax.algos.bc import BCConfig, train_bc
from imitax.algos.dac import DACConfig, train_dac
from imitax.algos.gail import GAILConfig, train_gail
from imitax.algos.iq_learn import IQLearnConfig, train_iq_learn
from imitax.algos.sqil import SQILConfig, train_sqil
from imitax.data.types import flatten_trajectories
from imitax.eval import normalized_score, seed_statistics
from imitax.io.atomic import atomic_write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import make_env, record_demos, seed_scores  # noqa: E402
from off_policy_speed import machine_label  # noqa: E402

def _offline_iq_learn_config(env_id: str) -> IQLearnConfig:
    return IQLearnConfig.for_env(env_id, offline=True)


def _bc_config(env_id: str) -> BCConfig:
    return BCConfig()


def _train_bc(env, transitions, config: BCConfig, seed: int, num_seeds: int):
    return train_bc(transitions, env.spec, config, seed=seed, num_seeds=num_seeds)


def _off_policy_airl_config(env_id: str) -> AIRLConfig:
    return AIRLConfig.for_env(env_id, generator="sac")


# name: (config for a task id, trainer(env, transitions, config, seed=, num_seeds=))
METHODS = {"dac": (DACConfig.for_env, train_dac), "sqil": (SQILConfig.for_env, train_sqil),
           "iq-learn": (IQLearnConfig.for_env, train_iq_learn), "airl-sac": (_off_policy_airl_config, train_airl),
           "gail": (GAILConfig.for_env, train_gail), "iq-learn-offline": (_offline_iq_learn_config, train_iq_learn),
           "bc": (_bc_config, _train_bc)}


def steps_to_threshold(returns: np.ndarray, steps_per_iteration: int, random_score: float, expert_score: float,
                       threshold: float = 0.9) -> list[int | None]:
    """Per seed (`returns`: f[num_seeds, iterations], NaN where no episode ended), the env
    steps after which the trailing mean training return first reaches `threshold`."""
    out: list[int | None] = []
    window = max(1, returns.shape[1] // 20)
    for seed_returns in returns:
        reached = None
        for end in range(window, returns.shape[1] + 1):
            recent = seed_returns[end - window:end]
            if np.isfinite(recent).any() and \
                    normalized_score(float(np.nanmean(recent)), random_score, expert_score) >= threshold:
                reached = end * steps_per_iteration
                break
        out.append(reached)
    return out


def training_curve(returns: np.ndarray, parts: int = 10) -> list[list[float | None]]:
    """Per seed (`returns`: f[num_seeds, iterations], NaN where no episode ended), the mean
    training return over each tenth of the run (None where no episode ended in it)."""
    out = []
    for seed_returns in returns:
        tenths = [chunk[np.isfinite(chunk)] for chunk in np.array_split(seed_returns, parts)]
        out.append([round(float(t.mean()), 1) if t.size else None for t in tenths])
    return out


def bench_env(env_id: str, algos: list[str], demo_counts: list[int], num_seeds: int, eval_episodes: int,
              first_seed: int = 0, save=lambda entry: None) -> dict:
    """Each method's rows on `env_id`; `save(entry)` after every row, so a long run keeps what it measured."""
    demos, source = record_demos(env_id, max(demo_counts))
    out: dict = {"expert_source": source, "expert_return": demos.expert_score, "random_return": demos.random_score}
    env = make_env(env_id)
    for count in demo_counts:
        transitions = flatten_trajectories(demos.trajectories[:count])
        for algo in algos:
            make_config, trainer = METHODS[algo]
            config = make_config(env_id)
            start = time.perf_counter()
            result = trainer(env, transitions, config, seed=first_seed, num_seeds=num_seeds)
            train_s = time.perf_counter() - start
            gradient_steps = None
            if algo == "bc":
                policy, params, per_iteration, env_steps = result.bc.policy, result.params, 1, 0
                gradient_steps = result.gradient_steps
            else:
                policy, params = result.algo.policy, jax.vmap(result.algo.policy_params)(result.state)
                generator = getattr(result.algo, "generator", None)  # GAIL, AIRL, DAC
                per_iteration = generator.steps_per_iteration if generator else config.sac.steps_per_iteration
                env_steps = result.env_steps
                gradient_steps = result.gradient_steps if env_steps == 0 else None
            scores = seed_scores(env, policy, params, num_seeds, demos.random_score, demos.expert_score, eval_episodes,
                                 first_seed)
            online = {}
            to_09 = [None] * num_seeds
            if env_steps:
                returns = np.asarray(result.history["episode_return"])
                to_09 = steps_to_threshold(returns, per_iteration, demos.random_score, demos.expert_score)
                online = {"training_return_per_tenth": training_curve(returns)}
            out[f"{algo}_{count}demos"] = {**seed_statistics(scores).to_dict(), "env_steps": env_steps,
                                           "env_steps_to_0.9": to_09, "gradient_steps": gradient_steps,
                                           "train_s": round(train_s, 1), **online,
                                           "machine": machine_label(), "date": time.strftime("%Y-%m-%d")}
            save(out)
            budget = f"{env_steps:,} env steps" if env_steps else f"{gradient_steps:,} gradient steps, offline"
            print(f"  {env_id} {algo} {count} demos: {np.mean(scores):.3f} per seed {scores}, env steps to 0.9 "
                  f"{to_09} of {budget} ({train_s:.0f}s)", flush=True)
    return out


def with_earlier_seeds(earlier: dict, entry: dict) -> dict:
    """Rows of `entry` (later seeds) joined to the same rows of `earlier`: values and env steps
    to 0.9 appended, statistics recomputed over all seeds."""
    out = dict(entry)
    for key, row in entry.items():
        before = earlier.get(key)
        if isinstance(row, dict) and "values" in row and isinstance(before, dict) and "values" in before:
            values = list(before["values"]) + list(row["values"])
            out[key] = {**row, **seed_statistics(values).to_dict(),
                        "env_steps_to_0.9": list(before["env_steps_to_0.9"] or [None] * len(before["values"]))
                        + list(row["env_steps_to_0.9"]),
                        "train_s": round(before["train_s"] + row["train_s"], 1)}
            if "training_return_per_tenth" in row:
                earlier_curves = before.get("training_return_per_tenth") or [None] * len(before["values"])
                out[key]["training_return_per_tenth"] = list(earlier_curves) + row["training_return_per_tenth"]
    return out


def _machine(row: dict, entry: dict) -> str:
    """A short name of the machine that measured a row (rows older than per-row machines: the task's)."""
    machine = row.get("machine", entry.get("machine", ""))
    # hand-written labels ("lent machine's H100 GPU", "16-core CPU") and machine_label()'s ("gpu (NVIDIA H200), 16 CPU cores")
    gpu = re.search(r"\b[AHB]\d00\b", machine)
    cores = re.search(r"(\d+)(?:-core| CPU cores)", machine)
    return gpu.group(0) if gpu else f"{cores.group(1) if cores else 2}-core CPU"


def _row_order(key: str) -> tuple[int, int, str]:
    """Rows by method (METHODS' order, variants after their method), then 10 demos before 1."""
    algo, demos = key.split("_")
    base = next((i for i, name in enumerate(METHODS) if algo == name), len(METHODS))
    return base, -int(demos.removesuffix("demos")), algo


def markdown_table(results: dict) -> str:
    """One row per task, method and demo count: score per seed, env steps to 0.9, machine."""
    lines = ["| task | method | demos | normalised score [per seed] | env steps to 0.9, per seed | env steps | machine |",
             "|---|---|---|---|---|---|---|"]
    for env_id, entry in results["envs"].items():
        keys = [key for key, row in entry.items() if isinstance(row, dict) and "values" in row]
        for key in sorted(keys, key=_row_order):
            row = entry[key]
            algo, demos = key.split("_")
            seeds = ", ".join(f"{v:.2f}" for v in row["values"])
            steps = row["env_steps_to_0.9"]  # None: the run that measured the row did not record it
            to_09 = "not recorded" if steps is None else ", ".join("-" if x is None else f"{x:,}" for x in steps)
            budget = f"{row['env_steps']:,}" if row["env_steps"] else f"0 (offline, {row['gradient_steps']:,} gradient steps)"
            lines.append(f"| {env_id} | {algo.upper()} | {demos.removesuffix('demos')} | {row['mean']:.3f} [{seeds}] | "
                         f"{to_09 if row['env_steps'] else 'n/a'} | {budget} | {_machine(row, entry)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--algos", nargs="+", default=["dac", "sqil", "iq-learn", "gail"], choices=list(METHODS))
    parser.add_argument("--demos", nargs="+", type=int, default=[10, 1])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="more runs, from the key of seed first_seed (split into --seeds keys; not runs first_seed.. of a "
                             "seed-0 program); their values are appended to a row's existing ones")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/off_policy.json"))
    parser.add_argument("--table", action="store_true", help="print the saved results as a Markdown table and stop")
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(args.output.read_text())))
        return
    results = json.loads(args.output.read_text()) if args.output.is_file() else {"envs": {}}
    for env_id in args.envs:
        before = dict(results["envs"].get(env_id, {}))

        def save(entry: dict, env_id: str = env_id, before: dict = before) -> None:
            if args.first_seed:
                entry = with_earlier_seeds(before, entry)
            # each row carries its machine and date: the task's other rows keep theirs
            results["envs"][env_id] = {**before, **entry}
            atomic_write_json(args.output, results)

        bench_env(env_id, args.algos, args.demos, args.seeds, args.eval_episodes, args.first_seed, save)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
