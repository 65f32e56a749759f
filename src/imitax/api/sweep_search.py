"""Optuna's TPE search over a sweep's ranges, in rounds that each train as one sweep.

    sweep = imitax.sweep("gail", "CartPole-v1", demos="cartpole/expert-v0", num_seeds=3,
                         sample={"disc_learning_rate": (1e-4, 1e-2), "ppo.learning_rate": (1e-4, 3e-3)},
                         num_samples=12, search="optuna", rounds=3)

A sequential search would train one point at a time and give up what makes imitax's sweeps
cheap: points that differ only in learning rates train as one vmapped program. So the
`num_samples` points are asked of the sampler in `rounds` rounds: each round's points are
proposed together (TPE's "constant liar" keeps them apart), trained as one sweep (one program
where they differ only in traced fields), evaluated (mean normalised score over seeds, or mean
return without references) and told to the study; the next round's proposals use every score
so far. The first round is random (TPE's startup trials). A point where a seed diverged is a
failed trial. With the same `sample_seed` the same scores give the same proposals.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from imitax.api.methods import method
from imitax.api.sweep import Program, SweepEvaluation, SweepPlan, SweepResult, run_sweep, with_points
from imitax.api.sweep_space import Point, parse_ranges
from imitax.errors import ConfigError


def check_search(grid: Any, sample: Any, num_samples: Any, rounds: Any, episodes: Any) -> None:
    """What an Optuna search needs, checked before anything loads or trains."""
    if grid:
        raise ConfigError("search='optuna' proposes points from ranges only; expected sample={field: (low, high)} "
                          "without grid (or search='random' to cross a grid with random samples)")
    if not sample:
        raise ConfigError("search='optuna' needs sample={field: (low, high)} ranges to search")
    for name, value, least in (("num_samples", num_samples, 1), ("rounds", rounds, 1), ("search_episodes", episodes, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be an integer >= {least} with search='optuna', got {value!r}")
    if rounds > num_samples:
        raise ConfigError(f"rounds ({rounds}) exceeds num_samples ({num_samples}); expected at least one point per round")
    _optuna()


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError('search=\'optuna\' needs Optuna; expected it installed: pip install "imitax[optuna]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def round_sizes(num_samples: int, rounds: int) -> list[int]:
    """`num_samples` points over `rounds` rounds, the larger rounds first: 10 over 3 -> [4, 3, 3]."""
    return [num_samples // rounds + (1 if index < num_samples % rounds else 0) for index in range(rounds)]


def search_sweep(plan: SweepPlan, sample: dict[str, Sequence[Any]], num_samples: int, rounds: int, episodes: int,
                 sample_seed: int, ray: Any = None, on_round: Any = None, on_program: Any = None) -> SweepEvaluation:
    """Every round's points trained and evaluated (`episodes` episodes, the plan's seed), as one
    `SweepEvaluation` whose sweep has every point in the order proposed; `on_round(number,
    rounds, evaluation)` after each round, `on_program` as `run_sweep` takes it.

    plan: a checked plan over the `sample` fields (its points are replaced)."""
    optuna = _optuna()
    ranges = parse_ranges(plan.configs[0], method(plan.method).config_key, sample)
    distributions = {path: optuna.distributions.IntDistribution(int(bounds.low), int(bounds.high)) if bounds.integer
                     else optuna.distributions.FloatDistribution(float(bounds.low), float(bounds.high), log=bounds.log)
                     for path, bounds in ranges.items()}
    sizes = round_sizes(num_samples, rounds)
    sampler = optuna.samplers.TPESampler(seed=sample_seed, n_startup_trials=sizes[0], constant_liar=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    points: list[Point] = []
    results: list[Any] = []
    diverged: list[bool] = []
    programs: list[Program] = []
    evaluations: list[Any] = []
    point_rounds: list[int] = []
    for number, size in enumerate(sizes):
        trials = [study.ask(distributions) for _ in range(size)]
        round_points = [{path: trial.params[path] for path in distributions} for trial in trials]
        result = run_sweep(with_points(plan, round_points), on_program=on_program, ray=ray)
        evaluation = result.evaluate(episodes=episodes, seed=plan.seed)
        for trial, mean in zip(trials, evaluation.means):
            if math.isfinite(mean):
                study.tell(trial, float(mean))
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        offset = len(points)
        programs.extend(dataclasses.replace(program, points=tuple(offset + index for index in program.points))
                        for program in result.programs)
        points.extend(round_points)
        results.extend(result.results)
        diverged.extend(result.diverged or (False,) * size)
        evaluations.extend(evaluation.evaluations)
        point_rounds.extend([number] * size)
        if on_round is not None:
            on_round(number + 1, len(sizes), evaluation)
    sweep = SweepResult(plan.method, tuple(distributions), tuple(points), tuple(results), tuple(programs), False,
                        tuple(diverged), tuple(point_rounds))
    return SweepEvaluation(sweep, tuple(evaluations))


def best_by_round(evaluation: SweepEvaluation) -> list[float]:
    """The best mean score found up to the end of each round (NaN while every point diverged)."""
    rounds = evaluation.sweep.rounds
    means = evaluation.means
    out, best = [], -np.inf
    for number in range(max(rounds) + 1 if rounds else 0):
        in_round = [mean for mean, r in zip(means, rounds) if r == number and math.isfinite(mean)]
        best = max([best, *in_round])
        out.append(float(best) if math.isfinite(best) else float("nan"))
    return out
