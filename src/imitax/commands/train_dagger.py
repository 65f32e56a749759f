"""`imitax train dagger ENV --expert RUN`: DAgger, imitation by asking an expert policy."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import jax
import numpy as np
import tyro

from imitax.algos.dagger import DAggerConfig, train_dagger
from imitax.commands.common import (RunOptions, emit, evaluate_seeds, finish_run, holds_run_lock, keep_rollout_video, make_env,
                                    random_return, score_table, start_run, training)
from imitax.commands.resources import check_memory, estimate
from imitax.commands.wall_time import phase
from imitax.data.minari_io import load_demonstrations
from imitax.errors import ConfigError
from imitax.eval import evaluate
from imitax.io.expert_policy import load_expert
from imitax.io.policy_checkpoint import save_policy
from imitax.rl.loop import seed_slice


@dataclasses.dataclass
class TrainDAggerArgs:
    """DAgger: roll out the learner, have an expert policy label the visited states, retrain BC on all labels."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    expert: Path
    """run folder of an imitax policy (e.g. from `imitax expert`) or its checkpoint/ folder; it labels every visited state"""
    demos: str | None = None
    """Minari dataset id or folder of initial demonstrations, added to the dataset before round 0"""
    dagger: DAggerConfig = DAggerConfig()
    num_seeds: int = 1
    """independent seeds trained at once (vmapped on JAX envs)"""
    options: Annotated[RunOptions, tyro.conf.OmitArgPrefixes] = RunOptions()

    @classmethod
    def defaults(cls, env_id: str) -> TrainDAggerArgs:
        return cls(env_id, expert=tyro.MISSING)  # type: ignore[arg-type]


@holds_run_lock
def run_dagger(args: TrainDAggerArgs) -> dict[str, Any]:
    opts, config = args.options, args.dagger
    config.validate()
    if args.num_seeds <= 0:
        raise ConfigError(f"--num-seeds must be > 0, got {args.num_seeds}")
    env = make_env(args.env_id, opts.backend)
    check_memory(estimate(args, env.spec, args.num_seeds))
    with phase("load"):
        expert_fn, _ = load_expert(args.expert, env.spec)
        initial_demos = load_demonstrations(args.demos, spec=env.spec).transitions() if args.demos else None

    def batched_expert(key: jax.Array, obs: Any) -> Any:
        return jax.vmap(expert_fn)(jax.random.split(key, obs.shape[0]), obs)

    with phase("evaluate"):
        expert_score = evaluate(env, batched_expert, jax.random.PRNGKey(opts.seed + 30_000), opts.eval_episodes).mean
    random_score = random_return(env, opts.eval_episodes, opts.seed)
    run_dir = start_run(opts, "dagger", args.env_id, args)
    with training(run_dir, opts, f"DAgger {args.env_id}", config.num_rounds, 1, "rounds") as (mon, checkpoint):
        # history entry 0 is the initial learner: report it as round 0
        result = train_dagger(env, expert_fn, config, seed=opts.seed, num_seeds=args.num_seeds,
                              initial_demos=initial_demos, on_round=lambda done, metrics: mon(done - 1, metrics),
                              checkpoint=checkpoint)
    policy = result.policy
    evaluations = evaluate_seeds(env, policy, result.params, args.num_seeds, opts.eval_episodes, opts.seed)
    with phase("save"):
        save_policy(run_dir / "checkpoint", policy, seed_slice(result.params, 0), algorithm="dagger",
                    expert=str(args.expert), dataset=args.demos)
    keep_rollout_video(run_dir, opts, args.env_id, policy, seed_slice(result.params, 0))
    seed_labels = result.expert_labels.tolist()
    out = {"command": "train dagger", "env_id": args.env_id, "backend": opts.backend, "expert": str(args.expert),
           "demos": args.demos, "initial_demo_transitions": 0 if initial_demos is None else len(initial_demos),
           **score_table(evaluations, random_score, expert_score),
           "expert_labels": float(np.mean(seed_labels)), "seed_expert_labels": seed_labels,
           "rounds": _round_table(result.history), "env_steps": result.env_steps,
           "compile_s": result.compile_s, "train_s": result.run_s}
    out = finish_run(run_dir, f"DAgger on {args.env_id}", mon.rows, "expert_labels",
                     ["episode_return", "loss", "accuracy", "neg_mse", "beta"], out,
                     hlines={"expert": expert_score, "random": random_score})
    seeds = ", ".join(f"{s:.3f}" for s in out["seed_normalized_scores"])
    emit(out, opts.json, [
        (f"DAgger {args.env_id}: mean return {out['mean_return']:.1f} (expert {expert_score:.1f}, "
         f"random {random_score:.1f}), normalised score {out['normalized_score']:.3f} [per seed: {seeds}]"),
        (f"{config.num_rounds} rounds, {out['expert_labels']:,.0f} expert labels per seed "
         f"({result.run_s:.1f}s + {result.compile_s:.1f}s compile)"),
        f"saved {run_dir}",
    ])
    return out


def _round_table(history: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """One row per history entry (round 0 = the initial learner), averaged over seeds."""
    names = ("expert_labels", "beta", "loss", "rollout_return", "episode_return")
    rows = []
    for entry in range(history["expert_labels"].shape[1]):
        row = {"round": entry}
        for name in names:
            values = np.asarray(history[name][:, entry], np.float64)
            row[name] = float(np.nanmean(values)) if np.isfinite(values).any() else None
        rows.append(row)
    return rows
