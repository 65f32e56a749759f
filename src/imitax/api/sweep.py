"""`imitax.sweep(method, env, demos, grid=..., num_seeds=...)`: many settings, few programs.

    sweep = imitax.sweep("gail", "CartPole-v1", demos="cartpole/expert-v0", num_seeds=3,
                         grid={"disc_learning_rate": [1e-4, 3e-4, 1e-3], "ppo.learning_rate": [1e-4, 3e-4, 1e-3]})
    scores = sweep.evaluate(episodes=50)
    print(scores)                    # one row per point: mean, IQM, per-seed scores
    scores.heatmap("sweep.png")
    sweep.results[0].policy(seed=0)  # every point is a TrainResult

Points that differ only in fields whose values live in the training state (the learning rates
of GAIL, AIRL, DAC, SQIL and online IQ-Learn: the discriminator's, PPO's or SAC's actor, critic
and temperature rates; `traced_fields` of the method) train as one compiled program, vmapped
over points x seeds: one compile and, on JAX envs, one batched run. Any
other field (a loss, a budget, a network size) gives each of its values its own program.
On a machine with several devices (GPUs, or a CPU's cores after `imitax.cpu_devices.use_cpu_cores()`,
which the `imitax` command calls) a program's runs are split over them (`imitax.rl.loop.shard_runs`).
Point p's seed s gets the key that seed s gets in `imitax.train(..., seed=seed,
num_seeds=num_seeds)` with the point's config, and is evaluated with the same key, so a point's
scores are those of that separate run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from imitax.api.evaluation import Evaluation
from imitax.api.inputs import backend_of, resolve_demos, resolve_env
from imitax.api.methods import method, trained_runs
from imitax.api.result import TrainResult
from imitax.api.sweep_space import Point, grid_points, sampled_points, with_values
from imitax.api.trainer import check_num_seeds, train, validated_config, with_episode_context
from imitax.errors import ConfigError, DivergenceError, require_seed
from imitax.rl.loop import devices_used, finite_runs

# Methods whose traced fields (learning rates held in the state) can be vmapped: those with a
# `train_fn` and an `algorithm` in `imitax.api.methods`.
VMAPPED_METHODS = ("gail", "airl", "dac", "sqil", "iq-learn")
SEARCHES = ("random", "optuna")


@dataclasses.dataclass(frozen=True)
class Program:
    """One compiled training program of a sweep: the points it ran, the fields vmapped over
    (none: one point), its compile and run seconds and the devices its runs were split over."""

    points: tuple[int, ...]
    vmapped_fields: tuple[str, ...]
    compile_s: float
    run_s: float
    devices: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """points[i] ({field: value}) trained as results[i] (a `TrainResult` with `num_seeds` runs).
    A point where any seed diverged (NaN or infinite parameters) is `diverged[i]`: the sweep went
    on without it (its result is None when it had its own program, else its runs as they ended)."""

    method: str
    fields: tuple[str, ...]
    points: tuple[Point, ...]
    results: tuple[TrainResult | None, ...]
    programs: tuple[Program, ...]
    grid: bool
    """whether the points are a full grid over `fields` (else random samples, or a grid crossed with them)"""
    diverged: tuple[bool, ...] = ()
    rounds: tuple[int, ...] = ()
    """with `search="optuna"`, the round (0, 1, ...) whose proposals each point was; else empty"""

    def evaluate(self, episodes: int = 100, *, seed: int = 0) -> SweepEvaluation:
        """Every point's `TrainResult.evaluate(episodes=..., seed=...)` (None for a diverged point)."""
        diverged = self.diverged or (False,) * len(self.points)
        return SweepEvaluation(self, tuple(None if bad else result.evaluate(episodes=episodes, seed=seed)
                                           for result, bad in zip(self.results, diverged)))


@dataclasses.dataclass(frozen=True, eq=False)
class SweepEvaluation:
    """A sweep's points with their `Evaluation`s (normalised scores where references are known)."""

    sweep: SweepResult
    evaluations: tuple[Evaluation | None, ...]  # None: the point diverged

    @property
    def means(self) -> np.ndarray:
        """f64[num_points]: the seed mean of each point's metric (NaN where it diverged)."""
        return np.asarray([np.nan if evaluation is None else evaluation.mean for evaluation in self.evaluations])

    @property
    def _evaluated(self) -> list[Evaluation]:
        return [evaluation for evaluation in self.evaluations if evaluation is not None]

    @property
    def metric(self) -> str:
        return self._evaluated[0].metric if self._evaluated else "normalized_score"

    @property
    def best(self) -> tuple[Point, Evaluation]:
        """The point with the highest mean, and its evaluation.

        Raises:
            DivergenceError: every point diverged."""
        if not self._evaluated:
            raise DivergenceError(f"every point of the sweep diverged ({len(self.evaluations)} points); expected "
                                  "lower learning rates")
        index = int(np.nanargmax(self.means))
        return self.sweep.points[index], self.evaluations[index]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per point: its values, then mean, IQM and per-seed values of the metric
        (`diverged` true and None for the figures where it diverged)."""
        rows = []
        rounds = self.sweep.rounds or (None,) * len(self.sweep.points)
        for point, evaluation, search_round in zip(self.sweep.points, self.evaluations, rounds):
            row = {**point} if search_round is None else {**point, "round": search_round}
            if evaluation is None:
                rows.append({**row, "diverged": True, "mean": None, "iqm": None, "per_seed": None, "mean_returns": None})
                continue
            per_seed = evaluation.normalized_scores if evaluation.normalized_scores is not None else evaluation.mean_returns
            rows.append({**row, "diverged": False, "mean": evaluation.mean, "iqm": evaluation.iqm,
                         "per_seed": [float(v) for v in per_seed], "mean_returns": evaluation.mean_returns.tolist()})
        return rows

    def table(self) -> str:
        """A Markdown table, one row per point."""
        fields = self.sweep.fields
        name = "normalised score" if self.metric == "normalized_score" else "return"
        lines = [f"| {' | '.join(fields)} | mean {name} | IQM | per seed |", "|" + "---|" * (len(fields) + 3)]
        for row in self.rows():
            values = " | ".join(_format(row[field]) for field in fields)
            if row["diverged"]:
                lines.append(f"| {values} | diverged | - | - |")
                continue
            seeds = ", ".join(f"{v:.3f}" for v in row["per_seed"])
            lines.append(f"| {values} | {row['mean']:.3f} | {row['iqm']:.3f} | {seeds} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.sweep.method, "fields": list(self.sweep.fields), "grid": self.sweep.grid,
                "search": "optuna" if self.sweep.rounds else ("grid" if self.sweep.grid else "random"),
                "metric": self.metric, "points": self.rows(),
                "reference": self._evaluated[0].references.to_dict() if self._evaluated else None,
                "programs": [program.to_dict() for program in self.sweep.programs]}

    def heatmap(self, path: Any, title: str | None = None) -> Any:
        """A PNG of the mean metric: a heatmap over a grid of one or two fields, else one
        scatter panel per field (see `imitax.io.plots.plot_sweep`)."""
        from imitax.io.plots import plot_sweep

        name = "normalised score" if self.metric == "normalized_score" else "return"
        return plot_sweep(path, self.sweep.fields, self.sweep.points, self.means, self.sweep.grid,
                          title or f"{self.sweep.method.upper()} sweep: mean {name}", name)


def _format(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@dataclasses.dataclass(frozen=True, eq=False)
class SweepPlan:
    """A checked sweep, not yet trained: the env, the demonstrations, every point's validated
    config and how the points group into compiled programs."""

    method: str
    env: Any
    data: Any  # ExpertData or None
    fields: tuple[str, ...]
    points: tuple[Point, ...]
    configs: tuple[Any, ...]
    programs: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]  # (point indices, vmapped fields) per program
    grid: bool
    seed: int
    num_seeds: int
    env_id: str | None = None
    """the id the env was made from (what a Ray trial makes it again with); None for an env object"""


def sweep(method_name: str, env: Any, demos: Any = None, *, grid: dict[str, Sequence[Any]] | None = None,
          sample: dict[str, Sequence[Any]] | None = None, num_samples: int = 0, config: Any = None, seed: int = 0,
          num_seeds: int = 1, backend: str | None = None, sample_seed: int = 0, ray: Any = None,
          search: str = "random", rounds: int = 3, search_episodes: int = 20) -> SweepResult:
    """Train `method_name` at every point of a grid and/or of random samples, `num_seeds` runs each.

    Args:
        method_name, env, demos, config, seed, num_seeds, backend: as `imitax.train` takes them;
            `config` is the base every point changes.
        grid: {field: [values]}; every combination is a point. Fields are dotted config paths
            ("disc_learning_rate", "ppo.learning_rate"; "gail.disc-learning-rate" too).
        sample: {field: (low, high)}; `num_samples` random points (floats log-uniform when
            both bounds are positive, ints uniform), drawn with `sample_seed`. With `grid` too,
            every sample is combined with every grid point.
        ray: run each program as a Ray Tune trial on a Ray cluster: its address ("host:port",
            "ray://host:port", "auto"; "local" starts Ray on this machine) or a `RayCluster`
            with per-trial resources and storage (needs `pip install "imitax[ray]"`; `env` must
            be an id that the cluster's workers can make).
        search: how the `sample` points are chosen: "random" (independent draws) or "optuna"
            (Optuna's TPE sampler, `pip install "imitax[optuna]"`): `num_samples` points in
            `rounds` rounds, each round one sweep whose points' mean scores over
            `search_episodes` episodes guide the next round's proposals
            (`imitax.api.sweep_search`).

    Raises:
        ImitaxError: what `imitax.train` refuses, an unknown field, a value of the wrong type,
            any point's config that does not validate, or a Ray cluster that is not installed or
            cannot be reached (all checked before training).
    """
    cluster = None
    if ray is not None:
        from imitax.api.sweep_ray import RayCluster

        cluster = ray if isinstance(ray, RayCluster) else RayCluster(address=ray)
        cluster.check(env)
    if search not in SEARCHES:
        raise ConfigError(f"unknown sweep search {search!r}; expected one of {', '.join(SEARCHES)}")
    if search == "optuna":  # the plan checks everything; the search replaces its one random point
        from imitax.api.sweep_search import check_search, search_sweep

        check_search(grid, sample, num_samples, rounds, search_episodes)
    plan = plan_sweep(method_name, env, demos, grid=grid, sample=sample,
                      num_samples=1 if search == "optuna" else num_samples, config=config, seed=seed,
                      num_seeds=num_seeds, backend=backend, sample_seed=sample_seed)
    with contextlib.ExitStack() as ray_session:
        if cluster is not None:
            from imitax.api.sweep_ray import connected

            ray_session.enter_context(connected(cluster))
        if search == "optuna":
            return search_sweep(plan, sample, num_samples, rounds, search_episodes, sample_seed, ray=cluster).sweep
        return run_sweep(plan, ray=cluster)


def plan_sweep(method_name: str, env: Any, demos: Any = None, *, grid: dict[str, Sequence[Any]] | None = None,
               sample: dict[str, Sequence[Any]] | None = None, num_samples: int = 0, config: Any = None, seed: int = 0,
               num_seeds: int = 1, backend: str | None = None, sample_seed: int = 0) -> SweepPlan:
    """Everything `sweep` checks, before it trains (see `sweep`)."""
    spec_method = method(method_name)
    require_seed(seed, "seed")
    require_seed(sample_seed, "sample_seed")
    check_num_seeds(num_seeds)
    if spec_method.takes in ("mdp", "expert"):
        raise ConfigError(f"sweeps train methods from demonstrations or on the environment's reward; {spec_method.name} "
                          "is not one (expected bc, gail, airl, dac, sqil, iq-learn, ppo or sac)")
    if not grid and not sample:
        raise ConfigError("a sweep needs grid={field: [values]} and/or sample={field: (low, high)}")
    resolved = resolve_env(env, backend)
    base = validated_config(spec_method, config, resolved.spec.env_id)
    section = spec_method.config_key
    points = grid_points(base, section, grid) if grid else [{}]
    if sample:
        samples = sampled_points(base, section, sample, num_samples, sample_seed)
        points = [{**g, **s} for g in points for s in samples]
    configs = [validated_config(spec_method, with_values(base, point), resolved.spec.env_id) for point in points]
    if spec_method.takes == "demos" and demos is None:
        raise ConfigError(f"{spec_method.name} needs demos=...: a Minari dataset id, Demonstrations or Transitions")
    if spec_method.takes == "env" and demos is not None:
        raise ConfigError(f"{spec_method.name} learns from the environment's reward and takes no demos; expected demos=None")
    data = resolve_demos(demos, resolved.spec) if demos is not None else None
    if data is not None:  # as imitax.train resolves it: every program, here or on Ray, records the same config
        configs = _with_episode_context(spec_method.name, configs, resolved, data, seed)
    return SweepPlan(spec_method.name, resolved, data, tuple(points[0]), tuple(points), tuple(configs),
                     tuple(_programs(spec_method.name, resolved, configs, points)), bool(grid) and not sample, seed,
                     num_seeds, env if isinstance(env, str) else None)


def with_points(plan: SweepPlan, points: Sequence[Point]) -> SweepPlan:
    """`plan` (its env, demos, base config and seeds) at other points of the same fields, each
    point's config validated and the points grouped into programs again."""
    spec_method = method(plan.method)
    # the plan's first config: its per-episode context is resolved, and every new point sets the
    # fields its point set
    base = plan.configs[0]
    configs = [validated_config(spec_method, with_values(base, point), plan.env.spec.env_id) for point in points]
    return dataclasses.replace(plan, points=tuple(points), configs=tuple(configs), grid=False,
                               programs=tuple(_programs(plan.method, plan.env, configs, list(points))))


def _with_episode_context(method_name: str, configs: list[Any], env: Any, data: Any, seed: int) -> list[Any]:
    """The points' configs with per-episode context resolved (`with_episode_context`: once,
    with its warning; the features depend on the env, the demos and the seed, not the point)."""
    first = with_episode_context(method_name, configs[0], env, data, seed, stacklevel=4)
    features = getattr(first, "disc_ignore_obs", None)
    return [dataclasses.replace(config, disc_ignore_obs=features)
            if features is not None and getattr(config, "disc_ignore_obs", ()) is None else config for config in configs]


def run_sweep(plan: SweepPlan, on_program: Any = None, ray: Any = None, on_chunk: Any = None) -> SweepResult:
    """Train a planned sweep, program by program; `on_program(program, done, total)` after each,
    and inside a vmapped program `on_chunk(program_number, iterations_done, iterations_total,
    metrics {name: f[runs, chunk]})` after each of its chunks. With `ray` (a `RayCluster`), each
    program runs as one Ray Tune trial on that cluster (`imitax.api.sweep_ray`)."""
    results: list[TrainResult | None] = [None] * len(plan.points)
    diverged = [False] * len(plan.points)
    programs = []
    if ray is not None:
        from imitax.api.sweep_ray import run_on_ray

        trained_programs = run_on_ray(plan, ray)
    else:
        trained_programs = (
            train_program(plan, indices, vmapped,
                          None if on_chunk is None else functools.partial(on_chunk, number + 1))
            for number, (indices, vmapped) in enumerate(plan.programs))
    for points, program in trained_programs:
        for index, result, bad in points:
            results[index], diverged[index] = result, bad
        programs.append(program)
        if on_program is not None:
            on_program(program, len(programs), len(plan.programs))
    return SweepResult(plan.method, plan.fields, plan.points, tuple(results), tuple(programs), plan.grid,
                       tuple(diverged))


def train_program(plan: SweepPlan, indices: tuple[int, ...], vmapped: tuple[str, ...],
                  on_chunk: Any = None) -> tuple[list[tuple[int, TrainResult | None, bool]], Program]:
    """Train one program of `plan`: per point (index, its TrainResult, whether it diverged), and
    the program's record. A point that diverges alone in its program has no result. A vmapped
    program calls `on_chunk(iterations_done, iterations_total, metrics)` after each chunk."""
    data, env = plan.data, plan.env
    if vmapped:
        trained, program, finite = _train_vmapped(plan, indices, vmapped, on_chunk)
        return [(index, TrainResult(**one.fields(), method=plan.method, config=plan.configs[index], seed=plan.seed,
                                    references=data.references, env=env, backend=backend_of(env)), not ok)
                for index, one, ok in zip(indices, trained, finite)], program
    index = indices[0]
    try:
        one = train(plan.method, env, data, config=plan.configs[index], seed=plan.seed, num_seeds=plan.num_seeds)
    except DivergenceError:  # this point only: the sweep goes on
        return [(index, None, True)], Program((index,), (), 0.0, 0.0)  # its timing went with the error
    return [(index, one, False)], Program((index,), (), one.compile_s, one.run_s)


def _programs(method_name: str, env: Any, configs: list[Any], points: list[Point]) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
    """The points grouped into programs: (point indices, fields vmapped over) per program.
    Points share a program when they differ only in traced fields of their method."""
    traced = _traced_fields(method_name, env, configs[0])
    groups: dict[str, list[int]] = {}
    for index, point in enumerate(points):
        fixed = {field: value for field, value in point.items() if field not in traced}
        groups.setdefault(repr(sorted(fixed.items())), []).append(index)
    programs = []
    for indices in groups.values():
        varied = tuple(field for field in points[indices[0]] if field in traced)
        if varied and len(indices) > 1 and _traced_fields(method_name, env, configs[indices[0]]) == traced:
            programs.append((tuple(indices), varied))
        else:
            programs.extend(((index,), ()) for index in indices)
    return programs


def _algorithm(method_name: str, env: Any, config: Any) -> Any:
    return method(method_name).algorithm(config, env.spec)


def _traced_fields(method_name: str, env: Any, config: Any) -> tuple[str, ...]:
    if method_name not in VMAPPED_METHODS:
        return ()
    return _algorithm(method_name, env, config).traced_fields


def _train_vmapped(plan: SweepPlan, indices: tuple[int, ...], fields: tuple[str, ...],
                   on_chunk: Any = None) -> tuple[list[Any], Program, list[bool]]:
    """One program for the points `indices`, which differ only in the traced `fields`; and per
    point whether all its runs stayed finite (a run that diverges does not stop the others)."""
    env, num_seeds, config = plan.env, plan.num_seeds, plan.configs[indices[0]]
    hyperparams = {field: np.asarray([plan.points[index][field] for index in indices], np.float32) for field in fields}
    progress = None
    if on_chunk is not None:
        algo = _algorithm(plan.method, env, config)
        total = algo.generator.num_iterations if hasattr(algo, "generator") else config.sac.num_iterations
        progress = lambda done, metrics: on_chunk(done, total, metrics)  # noqa: E731
    train_fn = method(plan.method).train_fn
    result = train_fn(env, plan.data.transitions, config, plan.seed, num_seeds, on_chunk=progress,
                      hyperparams=hyperparams)
    share = 1.0 / len(indices)
    runs = [range(position * num_seeds, (position + 1) * num_seeds) for position in range(len(indices))]
    trained = [trained_runs(result, env.spec, plan.method, members, share) for members in runs]
    finite = finite_runs(result.state)
    program = Program(tuple(indices), fields, float(result.compile_s), float(result.run_s), devices_used(result.state))
    return trained, program, [bool(finite[members.start:members.stop].all()) for members in runs]
