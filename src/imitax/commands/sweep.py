"""`imitax sweep gail|airl|bc|dac|sqil|iq-learn ENV --demos ID --grid FIELD=V1,V2 ... --num-seeds N`.

Every point of the grid (and/or `--num-samples` random points of `--sample FIELD=LOW:HIGH`
ranges; with `--search optuna`, points proposed by Optuna's TPE in `--rounds` rounds, each round
one sweep scored before the next is proposed: `imitax.api.sweep_search`) trains `--num-seeds` seeds; points that differ only in learning rates of GAIL or AIRL
share one compiled program, vmapped over points x seeds (`imitax.api.sweep`). The run folder
gets sweep.json (every point's values, per-seed scores, mean and IQM, and the programs run),
sweep.md (the table), sweep.png (a heatmap over a grid of one or two fields, else one scatter
panel per field), the best point's policy in checkpoint/ (seed 0) and result.json. With
`--ray ADDRESS` each program runs as a Ray Tune trial on that cluster (`imitax.api.sweep_ray`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Annotated, Any

import numpy as np
import tyro

from imitax.api.sweep import SEARCHES, VMAPPED_METHODS
from imitax.api.sweep_space import parse_assignments
from imitax.commands.common import emit, finish_run, holds_run_lock, start_run
from imitax.commands.resources import check_memory, estimate
from imitax.commands.train import (ImitationArgs, TrainAIRLArgs, TrainBCArgs, TrainDACArgs, TrainGAILArgs,
                                   TrainIQLearnArgs, TrainSQILArgs, load_for)
from imitax.commands.wall_time import phase
from imitax.errors import ConfigError
from imitax.io.atomic import atomic_write_json, atomic_write_text
from imitax.io.policy_checkpoint import save_policy


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """What to sweep. FIELD is a config field as its option is spelled (gail.disc-learning-rate,
    gail.ppo.learning-rate; the method's prefix may be left out)."""

    grid: tuple[str, ...] = ()
    """FIELD=V1,V2,... (repeat for more fields): every combination is a point"""
    sample: tuple[str, ...] = ()
    """FIELD=LOW:HIGH: random points (log-uniform when LOW > 0, integers for integer fields)"""
    num_samples: int = 0
    """random points drawn from the --sample ranges (each combined with every --grid point)"""
    sample_seed: int = 0
    """seed of the random points (and of Optuna's sampler)"""
    search: str = "random"
    """random (independent draws from the --sample ranges) | optuna (Optuna's TPE proposes --num-samples
    points in --rounds rounds, each trained as one sweep and scored before the next; needs imitax[optuna])"""
    rounds: int = 3
    """with --search optuna: rounds of proposals (the first is random)"""
    ray: str | None = None
    """run each program as a Ray Tune trial on a Ray cluster: host:port as `ray start --head` printed it,
    ray://host:port, auto (the cluster of this node) or local (start Ray here); needs imitax[ray]"""
    ray_cpus_per_trial: float = 1.0
    """CPUs each Ray trial (one program) asks for"""
    ray_gpus_per_trial: float = 0.0
    """GPUs each Ray trial asks for (fractions share a GPU)"""
    ray_storage: str | None = None
    """where Ray trials put their checkpoints: a folder every node sees or a cloud URI (default: a temporary
    folder on this machine, enough for a one-machine cluster)"""


def _sweep_args(train_args: type, name: str, vmapped: bool) -> type:
    """`imitax train NAME`'s arguments plus the sweep's options, as one tyro-readable dataclass."""
    how = "learning rates vmapped in one program" if vmapped else "one program per point"
    args = dataclasses.make_dataclass(
        f"Sweep{train_args.__name__.removeprefix('Train')}",
        [("sweep", Annotated[SweepOptions, tyro.conf.OmitArgPrefixes], dataclasses.field(default=SweepOptions()))],
        bases=(train_args,))
    args.__doc__ = f"Sweep {name}'s settings: points x seeds ({how})."
    args.__module__ = __name__
    return args


# command -> (its arguments, the method's name in imitax.train)
SWEEP_COMMANDS: dict[str, tuple[type, str]] = {
    f"sweep {name}": (_sweep_args(train_args, label, name in VMAPPED_METHODS), name)
    for name, train_args, label in [("gail", TrainGAILArgs, "GAIL"), ("airl", TrainAIRLArgs, "AIRL"),
                                    ("bc", TrainBCArgs, "BC"), ("dac", TrainDACArgs, "DAC"),
                                    ("sqil", TrainSQILArgs, "SQIL"), ("iq-learn", TrainIQLearnArgs, "IQ-Learn")]
}


def method_config(args: ImitationArgs, method_name: str) -> Any:
    return getattr(args, method_name.replace("-", "_"))


@holds_run_lock
def run_sweep_command(args: Any) -> dict[str, Any]:
    from imitax.api.inputs import ExpertData
    from imitax.api.result import ReferenceScores
    from imitax.api.sweep import plan_sweep

    method_name = next(name for kind, name in SWEEP_COMMANDS.values() if type(args) is kind)
    opts, options = args.options, args.sweep
    if opts.resume is not None:
        raise ConfigError("a sweep does not resume; expected no --resume (run it again, or train the point you need)")
    if opts.video:
        raise ConfigError("a sweep keeps no video; expected no --video (imitax eval RUN --video films its best point)")
    if not options.grid and not options.sample:
        raise ConfigError("imitax sweep needs --grid FIELD=V1,V2,... and/or --sample FIELD=LOW:HIGH --num-samples N")
    if options.sample and options.num_samples < 1:
        raise ConfigError(f"--sample needs --num-samples >= 1, got {options.num_samples}")
    if options.num_samples and not options.sample:
        raise ConfigError("--num-samples needs --sample FIELD=LOW:HIGH ranges to draw from")
    if options.search not in SEARCHES:
        raise ConfigError(f"unknown --search {options.search!r}; expected one of {', '.join(SEARCHES)}")
    if options.search == "optuna":
        from imitax.api.sweep_search import check_search

        check_search(options.grid, options.sample, options.num_samples, options.rounds, opts.eval_episodes)
    cluster = None
    if options.ray is not None:
        from imitax.api.sweep_ray import RayCluster

        cluster = RayCluster(options.ray, options.ray_cpus_per_trial, options.ray_gpus_per_trial, options.ray_storage)
        cluster.check(args.env_id)
    env, demos, random_score, expert_score = load_for(args)
    # checked as it loaded, with both references known: each point neither checks it again nor
    # measures the random reference again
    data = ExpertData(demos.transitions(), args.demos, ReferenceScores(random_score, expert_score))
    plan = plan_sweep(method_name, env, data, grid=parse_assignments(options.grid, "--grid"),
                      sample=parse_assignments(options.sample, "--sample"),
                      num_samples=1 if options.search == "optuna" else options.num_samples,
                      config=method_config(args, method_name), seed=opts.seed, num_seeds=args.num_seeds,
                      sample_seed=options.sample_seed)
    plan = dataclasses.replace(plan, env_id=args.env_id)
    if cluster is None:  # on Ray the trials' machines hold the runs
        largest = max(len(indices) for indices, _ in plan.programs)
        if options.search == "optuna":  # a round's points may share one program
            from imitax.api.sweep_search import round_sizes

            largest = round_sizes(options.num_samples, options.rounds)[0]
        check_memory(estimate(args, env.spec, largest * args.num_seeds, demos.num_transitions))
    with contextlib.ExitStack() as ray_session:
        if cluster is not None:
            from imitax.api.sweep_ray import connected

            ray_session.enter_context(connected(cluster))  # an unreachable cluster is refused before the run folder
        run_dir, result, scores = _train(plan, opts, method_name, args, cluster)
    if scores is None:  # a search scored its points as it went
        with phase("evaluate"):
            scores = result.evaluate(episodes=opts.eval_episodes, seed=opts.seed)
    best_point, best = scores.best
    best_result = result.results[result.points.index(best_point)]
    summary = scores.to_dict()
    with phase("save"):
        atomic_write_json(run_dir / "sweep.json", summary)
        atomic_write_text(run_dir / "sweep.md", scores.table() + "\n")
        save_policy(run_dir / "checkpoint", best_result.policy_net, best_result.policy_params[0],
                    algorithm=method_name, dataset=args.demos, sweep_point=best_point)
    with phase("plot"):
        scores.heatmap(run_dir / "sweep.png", f"{method_name.upper()} {args.env_id}: mean "
                       f"{'normalised score' if scores.metric == 'normalized_score' else 'return'}, "
                       f"{args.num_seeds} seed{'s' if args.num_seeds != 1 else ''} per point")
    out = {"command": f"sweep {method_name}", "env_id": args.env_id, "backend": opts.backend, "demos": args.demos,
           "num_points": len(result.points), "num_seeds": args.num_seeds, "num_programs": len(result.programs),
           "diverged_points": [point for point, bad in zip(result.points, result.diverged) if bad],
           "fields": list(result.fields), "best_point": best_point, "best_mean": best.mean,
           "best_seed_scores": summary["points"][result.points.index(best_point)]["per_seed"],
           "reference": {"random": random_score, "expert": expert_score},
           "compile_s": sum(p.compile_s for p in result.programs), "train_s": sum(p.run_s for p in result.programs),
           "search": summary["search"], "points": summary["points"]}
    if result.rounds:
        from imitax.api.sweep_search import best_by_round

        out["best_mean_by_round"] = best_by_round(scores)
    out = finish_run(run_dir, f"{method_name} sweep on {args.env_id}", [], "env_steps", [], out)
    emit(out, opts.json, [scores.table(), f"best: {best_point} mean {best.mean:.3f}", f"saved {run_dir}"])
    return out


def _train(plan: Any, opts: Any, method_name: str, args: Any, cluster: Any) -> tuple[Any, Any, Any]:
    """The run folder, the sweep trained into it (here, or on `cluster`) and, for a search, its
    points' scores (else None), with progress on stderr."""
    from imitax.api.sweep import run_sweep

    options = args.sweep
    run_dir = start_run(opts, f"sweep-{method_name}", args.env_id, args)
    where = f" as Ray trials on {cluster.address}" if cluster is not None else ""
    if options.search == "optuna":
        print(f"sweep {method_name} {args.env_id}: Optuna TPE, {options.num_samples} points in {options.rounds} rounds "
              f"x {args.num_seeds} seeds{where}", file=sys.stderr, flush=True)
    else:
        print(f"sweep {method_name} {args.env_id}: {len(plan.points)} points x {args.num_seeds} seeds in "
              f"{len(plan.programs)} program{'s' if len(plan.programs) != 1 else ''}{where}", file=sys.stderr, flush=True)

    def report(program: Any, done: int, total: int) -> None:
        if opts.progress:
            how = f"vmapped over {', '.join(program.vmapped_fields)}" if program.vmapped_fields else "one point"
            devices = f", on {program.devices} devices" if program.devices > 1 else ""
            print(f"  program {done}/{total}: points {list(program.points)} ({how}{devices}), compile "
                  f"{program.compile_s:.1f} s, train {program.run_s:.1f} s", file=sys.stderr, flush=True)

    shown: dict[int, int] = {}  # program number -> the last fifth of its iterations reported

    def report_chunk(number: int, done: int, total: int, metrics: dict[str, Any]) -> None:
        fifth = 5 * done // total
        if not opts.progress or fifth == shown.get(number, 0) or done == total:
            return
        shown[number] = fifth
        returns = np.asarray(metrics.get("episode_return", [[np.nan]]), np.float64)[:, -1]
        mean = f", episode return {np.nanmean(returns):.1f} (mean over its runs)" if np.isfinite(returns).any() else ""
        print(f"  program {number}/{len(plan.programs)}: {done:,}/{total:,} iterations{mean}", file=sys.stderr,
              flush=True)

    def report_round(number: int, rounds: int, evaluation: Any) -> None:
        if opts.progress:
            best = np.nanmax(evaluation.means) if np.isfinite(evaluation.means).any() else float("nan")
            print(f"  round {number}/{rounds}: best of its {len(evaluation.means)} points {best:.3f}", file=sys.stderr,
                  flush=True)

    if options.search == "optuna":  # each round is scored before the next: evaluation is part of the search
        from imitax.api.sweep_search import search_sweep

        with phase("train"):
            scores = search_sweep(plan, parse_assignments(options.sample, "--sample"), options.num_samples,
                                  options.rounds, opts.eval_episodes, options.sample_seed, ray=cluster,
                                  on_round=report_round, on_program=report)
        return run_dir, scores.sweep, scores
    with phase("train"):  # the programs' evaluation comes after, in its own phase
        return run_dir, run_sweep(plan, report, ray=cluster, on_chunk=report_chunk), None
