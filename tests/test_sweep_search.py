"""Optuna's search over a sweep's ranges (`imitax.sweep(..., search="optuna")`, `imitax sweep
--search optuna`): rounds of proposals, each round one vmapped program, later rounds guided by
earlier scores. Budgets are tiny: these check the plumbing, not what the search finds."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import imitax
from imitax.algos.gail import GAILConfig
from imitax.api.sweep_search import best_by_round, round_sizes
from imitax.cli import main
from imitax.errors import ConfigError

TINY_GAIL = GAILConfig.for_env("CartPole-v1", disc_hidden_sizes=(16,), ppo=dict(
    total_steps=2048, num_envs=4, rollout_steps=64, num_epochs=2, num_minibatches=2, hidden_sizes=(16,)))
RANGES = {"disc_learning_rate": (1e-4, 1e-2), "ppo.learning_rate": (1e-4, 3e-3)}


@pytest.fixture(scope="module")
def searched(demos_root):
    sweep = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", sample=RANGES, num_samples=5, search="optuna",
                         rounds=2, config=TINY_GAIL, num_seeds=2, search_episodes=3, sample_seed=4)
    return sweep, sweep.evaluate(episodes=3)


def test_each_round_is_one_vmapped_program_of_points_inside_the_ranges(searched):
    sweep, _ = searched
    assert sweep.rounds == (0, 0, 0, 1, 1) and len(sweep.points) == 5 and not sweep.grid
    assert [program.points for program in sweep.programs] == [(0, 1, 2), (3, 4)]
    assert all(program.vmapped_fields == ("disc_learning_rate", "ppo.learning_rate") for program in sweep.programs)
    for point, result in zip(sweep.points, sweep.results):
        assert 1e-4 <= point["disc_learning_rate"] <= 1e-2 and 1e-4 <= point["ppo.learning_rate"] <= 3e-3
        assert result.config.disc_learning_rate == point["disc_learning_rate"]
        assert result.config.ppo.learning_rate == point["ppo.learning_rate"]
    assert len({repr(point) for point in sweep.points}) == 5


def test_the_search_reports_its_rounds_and_the_best_so_far(searched):
    sweep, scores = searched
    rows = scores.to_dict()
    assert rows["search"] == "optuna" and [row["round"] for row in rows["points"]] == [0, 0, 0, 1, 1]
    best = best_by_round(scores)
    assert best[0] == pytest.approx(np.nanmax(scores.means[:3])) and best[1] == pytest.approx(np.nanmax(scores.means))


def test_later_rounds_follow_the_scores_told_to_the_sampler(demos_root, searched, monkeypatch):
    """The same seed and scores give the same proposals; other scores for round 0 move round 1's."""
    sweep, _ = searched
    first = sweep.points[:3]
    again = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", sample=RANGES, num_samples=5, search="optuna",
                         rounds=2, config=TINY_GAIL, num_seeds=2, search_episodes=3, sample_seed=4)
    assert again.points == sweep.points  # the same seed and the same scores

    from imitax.api.sweep import SweepEvaluation

    evaluate = SweepEvaluation.means

    def inverted(self):
        return -evaluate.fget(self)

    monkeypatch.setattr(SweepEvaluation, "means", property(inverted))
    other = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", sample=RANGES, num_samples=5, search="optuna",
                         rounds=2, config=TINY_GAIL, num_seeds=2, search_episodes=3, sample_seed=4)
    assert other.points[:3] == first  # round 0 is TPE's random start
    assert other.points[3:] != sweep.points[3:]


def test_round_sizes_split_the_points_larger_rounds_first():
    assert round_sizes(10, 3) == [4, 3, 3] and round_sizes(3, 3) == [1, 1, 1] and round_sizes(7, 1) == [7]


@pytest.mark.parametrize("kwargs, message", [
    (dict(grid={"disc_learning_rate": [1e-3, 3e-3]}, sample=RANGES, num_samples=4), "ranges only"),
    (dict(num_samples=4), "needs sample="),
    (dict(sample=RANGES, num_samples=2, rounds=3), "rounds \\(3\\) exceeds num_samples \\(2\\)"),
    (dict(sample=RANGES, num_samples=4, rounds=0), "rounds must be an integer >= 1"),
    (dict(sample={"disc_learning_rate": (1e-2, 1e-4)}, num_samples=4), "expected numbers low < high"),
])
def test_bad_search_requests_are_refused_before_training(demos_root, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", search="optuna", config=TINY_GAIL, **kwargs)


def test_without_optuna_the_search_says_how_to_install_it(demos_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r'imitax\[optuna\]'):
        imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", sample=RANGES, num_samples=2, search="optuna",
                     rounds=2, config=TINY_GAIL)


def test_the_command_searches_in_rounds_and_writes_them(demos_root, tmp_path, capsys):
    flags = ["--gail.disc-hidden-sizes", "16", "--gail.ppo.total-steps", "2048", "--gail.ppo.num-envs", "4",
             "--gail.ppo.rollout-steps", "64", "--gail.ppo.num-epochs", "2", "--gail.ppo.num-minibatches", "2",
             "--gail.ppo.hidden-sizes", "16"]
    code = main(["sweep", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", "--sample",
                 "gail.disc-learning-rate=1e-4:1e-2", "--num-samples", "3", "--search", "optuna", "--rounds", "2",
                 "--eval-episodes", "2", "--runs-dir", str(tmp_path), "--json", "--no-progress", *flags])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["search"] == "optuna" and out["num_points"] == 3 and len(out["best_mean_by_round"]) == 2
    assert [row["round"] for row in out["points"]] == [0, 0, 1] and out["num_programs"] == 2
    run_dir = next(tmp_path.iterdir())
    saved = json.loads((run_dir / "sweep.json").read_text())
    assert saved["search"] == "optuna" and [row["round"] for row in saved["points"]] == [0, 0, 1]
    assert (run_dir / "sweep.png").is_file() and (run_dir / "checkpoint" / "meta.json").is_file()


def test_a_field_unused_at_every_point_is_refused_and_used_at_some_is_swept():
    """SQIL fixes SAC's temperature: sweeping its rate alone would train the same runs at every
    value, and is refused; swept with learn_alpha it is used at some points, and allowed."""
    from imitax.algos.dac import DACConfig
    from imitax.algos.sqil import SQILConfig
    from imitax.api.sweep_space import grid_points, sampled_points
    from imitax.errors import ConfigError

    with pytest.raises(ConfigError, match="sac.alpha_learning_rate has no effect: the temperature is fixed"):
        grid_points(SQILConfig(), "sqil", {"sac.alpha-learning-rate": [1e-4, 1e-3]})
    with pytest.raises(ConfigError, match="sac.alpha_learning_rate has no effect"):
        sampled_points(SQILConfig(), "sqil", {"sac.alpha_learning_rate": [1e-4, 1e-3]}, 3, seed=0)
    assert len(grid_points(SQILConfig(), "sqil", {"sac.alpha_learning_rate": [1e-4, 1e-3], "sac.learn_alpha": [True, False]})) == 4
    assert len(grid_points(DACConfig(), "dac", {"sac.alpha_learning_rate": [1e-4, 1e-3]})) == 2  # DAC learns it
