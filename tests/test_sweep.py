"""Sweeps (`imitax.sweep`, `imitax sweep`): points x seeds, learning rates vmapped in one
program with the scores of separate runs, other fields one program each, every point checked
before anything trains. Budgets are tiny: these check the plumbing and the equivalence."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

import imitax
from imitax.algos.airl import AIRLConfig
from imitax.algos.bc import BCConfig
from imitax.algos.gail import GAILConfig
from imitax.api.sweep_space import convert, grid_points, parse_assignments, sampled_points
from imitax.cli import main
from imitax.errors import ConfigError, ImitaxError

TINY_GAIL = GAILConfig.for_env("CartPole-v1", disc_hidden_sizes=(16,), ppo=dict(
    total_steps=2048, num_envs=4, rollout_steps=64, num_epochs=2, num_minibatches=2, hidden_sizes=(16,)))
TINY_FLAGS = ["--gail.disc-hidden-sizes", "16", "--gail.ppo.total-steps", "4096", "--gail.ppo.num-envs", "4",
              "--gail.ppo.rollout-steps", "64", "--gail.ppo.num-epochs", "2", "--gail.ppo.num-minibatches", "2",
              "--gail.ppo.hidden-sizes", "16"]


@pytest.fixture(scope="module")
def rate_sweep(demos_root):
    """GAIL's two learning rates, 2 points x 2 seeds vmapped in one program."""
    grid = {"gail.disc-learning-rate": [3e-4, 3e-3], "ppo.learning_rate": [1e-3]}
    return imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", grid=grid, config=TINY_GAIL, num_seeds=2)


def test_a_vmapped_sweep_scores_each_point_as_its_separate_run(rate_sweep):
    """A point's per-seed scores and final parameters equal `imitax.train` with its config."""
    sweep = rate_sweep
    assert len(sweep.programs) == 1 and sweep.programs[0].vmapped_fields == ("disc_learning_rate", "ppo.learning_rate")
    assert sweep.programs[0].points == (0, 1)
    scores = sweep.evaluate(episodes=3)
    config = dataclasses.replace(TINY_GAIL, disc_learning_rate=3e-3, ppo=dataclasses.replace(TINY_GAIL.ppo, learning_rate=1e-3))
    assert sweep.points[1] == {"disc_learning_rate": 3e-3, "ppo.learning_rate": 1e-3}
    alone = imitax.train("gail", "CartPole-v1", "cartpole/expert-v0", config=config, num_seeds=2)
    # the config as the separate run records it: per-episode context resolved from the demos (none here)
    assert sweep.results[1].config == alone.config == dataclasses.replace(config, disc_ignore_obs=())
    np.testing.assert_allclose(scores.evaluations[1].mean_returns, alone.evaluate(episodes=3).mean_returns)
    for seed in range(2):
        np.testing.assert_allclose(_flat(sweep.results[1].policy_params[seed]), _flat(alone.policy_params[seed]),
                                   rtol=1e-5, atol=1e-6)
    # the other rate trained differently (the values reached the program)
    assert not np.allclose(_flat(sweep.results[0].policy_params[0]), _flat(sweep.results[1].policy_params[0]))
    rows = scores.to_dict()["points"]
    assert [row["disc_learning_rate"] for row in rows] == [3e-4, 3e-3] and all(len(r["per_seed"]) == 2 for r in rows)
    assert scores.best[0] in sweep.points


@pytest.mark.parametrize("method", ["sqil", "dac"])
def test_off_policy_learning_rates_are_vmapped_with_the_parameters_of_separate_runs(demos_root, method):
    """SAC's rates live in its optimizer states too: SQIL's and DAC's points share one program,
    and a point's runs equal `imitax.train` with its config (a short run: float-level
    differences between batch sizes grow over a long one)."""
    from imitax.algos.dac import DACConfig
    from imitax.algos.sqil import SQILConfig

    tiny = dict(total_steps=600, learning_starts=500, batch_size=64, hidden_sizes=(32, 32))
    config = {"sqil": SQILConfig, "dac": DACConfig}[method].for_env("CartPole-v1", sac=tiny)
    grid = {"sac.actor_learning_rate": [3e-4, 1e-3], "sac.critic_learning_rate": [1e-3]}
    sweep = imitax.sweep(method, "CartPole-v1", "cartpole/expert-v0", grid=grid, config=config, num_seeds=2)
    assert [(p.points, p.vmapped_fields) for p in sweep.programs] == [
        ((0, 1), ("sac.actor_learning_rate", "sac.critic_learning_rate"))]
    point = dataclasses.replace(config, sac=dataclasses.replace(config.sac, actor_learning_rate=1e-3,
                                                                critic_learning_rate=1e-3))
    alone = imitax.train(method, "CartPole-v1", "cartpole/expert-v0", config=point, num_seeds=2)
    for seed in range(2):
        np.testing.assert_allclose(_flat(sweep.results[1].policy_params[seed]), _flat(alone.policy_params[seed]),
                                   rtol=1e-5, atol=1e-6)
    assert not np.allclose(_flat(sweep.results[0].policy_params[0]), _flat(sweep.results[1].policy_params[0]))


def test_a_field_that_changes_the_program_gets_its_own(demos_root):
    """disc_steps is compiled in: its two values are two programs, each vmapping its rates."""
    grid = {"disc_steps": [1, 2], "disc_learning_rate": [1e-4, 1e-3]}
    config = dataclasses.replace(TINY_GAIL, ppo=dataclasses.replace(TINY_GAIL.ppo, total_steps=512))
    sweep = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", grid=grid, config=config)
    assert [program.points for program in sweep.programs] == [(0, 1), (2, 3)]
    assert [result.config.disc_steps for result in sweep.results] == [1, 1, 2, 2]
    # a method without traced fields: one program per point
    bc = imitax.sweep("bc", "CartPole-v1", "cartpole/expert-v0", grid={"learning_rate": [1e-3, 3e-3]},
                      config=BCConfig(num_steps=20, log_every=10, batch_size=16, hidden_sizes=(8,), eval_episodes=0))
    assert [program.points for program in bc.programs] == [(0,), (1,)]
    assert all(program.vmapped_fields == () for program in bc.programs)


def test_a_point_that_diverges_is_reported_and_the_others_go_on(demos_root):
    """A rate that blows the parameters up marks its point diverged, in a shared program and in
    its own; the other points train and are scored as without it."""
    config = dataclasses.replace(TINY_GAIL, ppo=dataclasses.replace(TINY_GAIL.ppo, total_steps=512))
    sweep = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", config=config,
                         grid={"disc_steps": [1, 2], "ppo.learning_rate": [1e-3, 1e38]})
    assert [program.points for program in sweep.programs] == [(0, 1), (2, 3)]
    assert sweep.diverged == (False, True, False, True)
    scores = sweep.evaluate(episodes=2)
    assert np.isfinite(scores.means[[0, 2]]).all() and np.isnan(scores.means[[1, 3]]).all()
    assert scores.best[0]["ppo.learning_rate"] == 1e-3 and "| diverged |" in scores.table()
    bc = imitax.sweep("bc", "CartPole-v1", "cartpole/expert-v0", grid={"learning_rate": [1e-3, 1e38]},
                      config=BCConfig(num_steps=20, log_every=10, batch_size=16, hidden_sizes=(8,), eval_episodes=0))
    assert bc.diverged == (False, True) and bc.results[1] is None and bc.results[0] is not None
    with pytest.raises(ImitaxError, match="every point"):
        imitax.sweep("bc", "CartPole-v1", "cartpole/expert-v0", grid={"learning_rate": [1e37, 1e38]},
                     config=BCConfig(num_steps=20, log_every=10, batch_size=16, hidden_sizes=(8,), eval_episodes=0)
                     ).evaluate(episodes=2).best


def test_airl_sweeps_its_saved_rewards_rate_too():
    spec = imitax.make("CartPole-v1").spec
    from imitax.algos.airl import AIRL

    assert AIRL(AIRLConfig(), spec).traced_fields == ("disc_learning_rate", "ppo.learning_rate", "reward_learning_rate")
    assert AIRL(AIRLConfig(generator="sac"), spec).traced_fields == (
        "disc_learning_rate", "sac.actor_learning_rate", "sac.critic_learning_rate", "sac.alpha_learning_rate",
        "reward_learning_rate")


def test_values_take_the_fields_types_and_bad_ones_are_named():
    assert convert(TINY_GAIL, "disc_learning_rate", "1e-3") == 1e-3
    assert convert(TINY_GAIL, "disc_steps", "4") == 4 and convert(TINY_GAIL, "disc_steps", "none") is None
    assert convert(TINY_GAIL, "absorbing", "false") is False
    assert convert(TINY_GAIL, "reward", "positive") == "positive"
    points = grid_points(TINY_GAIL, "gail", {"gail.disc-learning-rate": ["1e-4", "1e-3"], "gail.ppo.num-epochs": [1, 2]})
    assert points == [{"disc_learning_rate": 1e-4, "ppo.num_epochs": 1}, {"disc_learning_rate": 1e-4, "ppo.num_epochs": 2},
                      {"disc_learning_rate": 1e-3, "ppo.num_epochs": 1}, {"disc_learning_rate": 1e-3, "ppo.num_epochs": 2}]
    for call, match in [
        (lambda: convert(TINY_GAIL, "disc_steps", "2.5"), "disc_steps"),
        (lambda: convert(TINY_GAIL, "disc_learning_rate", "fast"), "disc_learning_rate"),
        (lambda: convert(TINY_GAIL, "disc_hidden_sizes", "64"), "cannot be swept"),
        (lambda: grid_points(TINY_GAIL, "gail", {"disc_lr": [1e-3]}), "no field 'disc_lr'"),
        (lambda: grid_points(TINY_GAIL, "gail", {"ppo.learning_rat": [1e-3]}), "ppo.learning_rat"),
        (lambda: grid_points(TINY_GAIL, "gail", {"disc_learning_rate": [1e-3, 1e-3]}), "repeats a value"),
        (lambda: grid_points(TINY_GAIL, "gail", {"disc_learning_rate": []}), "non-empty list"),
        (lambda: sampled_points(TINY_GAIL, "gail", {"disc_learning_rate": (1e-2, 1e-4)}, 3, 0), "low < high"),
        (lambda: sampled_points(TINY_GAIL, "gail", {"disc_learning_rate": (1e-4, 1e-2)}, 0, 0), "num_samples"),
        (lambda: parse_assignments(["gail.disc-learning-rate"], "--grid"), "FIELD=V1,V2"),
    ]:
        with pytest.raises(ConfigError, match=match):
            call()


def test_random_points_are_log_uniform_within_their_ranges_and_reproducible():
    ranges = {"disc_learning_rate": ("1e-5", "1e-1"), "disc_steps": (1, 8)}
    points = sampled_points(TINY_GAIL, "gail", ranges, 400, seed=3)
    rates = np.array([p["disc_learning_rate"] for p in points])
    assert rates.min() >= 1e-5 and rates.max() <= 1e-1
    # log-uniform: each decade holds about a quarter of the draws
    decades = np.histogram(np.log10(rates), bins=[-5, -4, -3, -2, -1])[0]
    assert decades.min() > 60
    assert {p["disc_steps"] for p in points} == set(range(1, 9))
    assert sampled_points(TINY_GAIL, "gail", ranges, 5, seed=3) == points[:5]


def test_invalid_points_are_refused_before_training(demos_root):
    """A value that fails the config's own check, at any point of the grid, stops the sweep
    before anything trains; so does a method that cannot be swept."""
    with pytest.raises(ConfigError, match="disc_learning_rate"):
        imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", grid={"disc_learning_rate": [1e-3, -1.0]},
                     config=TINY_GAIL)
    with pytest.raises(ConfigError, match="grid="):
        imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", config=TINY_GAIL)
    with pytest.raises(ConfigError, match="dagger"):
        imitax.sweep("dagger", "CartPole-v1", grid={"num_rounds": [1, 2]})


def test_the_command_writes_the_table_heatmap_and_best_policy(demos_root, tmp_path, capsys):
    args = ["sweep", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", *TINY_FLAGS, "--gail.ppo.total-steps", "512",
            "--grid", "gail.disc-learning-rate=1e-4,1e-3", "gail.ppo.learning-rate=3e-4,1e-3", "--num-seeds", "2",
            "--eval-episodes", "2", "--runs-dir", str(tmp_path), "--name", "sweep", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert "program 1/1: 1/2 iterations" in captured.err  # progress inside the vmapped program
    run = tmp_path / "sweep"
    summary = json.loads((run / "sweep.json").read_text())
    assert out["num_points"] == 4 and out["num_programs"] == 1 and len(summary["points"]) == 4
    assert all(len(row["per_seed"]) == 2 for row in summary["points"])
    assert out["best_mean"] == max(row["mean"] for row in summary["points"])
    assert (run / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "sweep.md").read_text().count("\n") == 6
    meta = json.loads((run / "checkpoint" / "meta.json").read_text())
    assert meta["sweep_point"] == out["best_point"]
    assert main(["eval", str(run), "--episodes", "2"]) == 0


@pytest.mark.parametrize("bad, match", [
    (["--grid", "gail.disc-lr=1e-3,3e-3"], "no field 'disc_lr'"),
    (["--grid", "gail.disc-learning-rate=1e-3,-3e-3"], "disc_learning_rate"),
    (["--grid", "gail.disc-learning-rate"], "FIELD=V1,V2"),
    (["--sample", "gail.disc-learning-rate=1e-4:1e-2"], "--num-samples"),
    ([], "--grid"),
])
def test_bad_sweeps_exit_2_with_one_line_and_write_nothing(demos_root, tmp_path, capsys, bad, match):
    (tmp_path / "keep.txt").write_text("x")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    code = main(["sweep", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", *TINY_FLAGS, *bad,
                 "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and match in err[0]
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()} == before


TWO_DEVICES = """
import json
import jax, numpy as np, imitax
from imitax.compile_cache import enable_compilation_cache
enable_compilation_cache()  # the tests' cache ($IMITAX_COMPILATION_CACHE, set by conftest.py)
from test_sweep import TINY_GAIL
grid = {"gail.disc-learning-rate": [3e-4, 3e-3], "ppo.learning_rate": [1e-3]}
sweep = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", grid=grid, config=TINY_GAIL, num_seeds=2)
params = [np.concatenate([np.ravel(x) for x in jax.tree.leaves(r.policy_params[1])]).tolist() for r in sweep.results]
print(json.dumps({"local_devices": jax.local_device_count(), "devices": sweep.programs[0].devices, "params": params}))
"""


def test_a_sweep_splits_its_runs_over_two_devices(rate_sweep):
    """With two (forced) host devices the program's 4 runs are split over both, and each
    trains as it does on one device."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", TWO_DEVICES], env=env, capture_output=True, text=True, check=True)
    split = json.loads(done.stdout.strip().splitlines()[-1])
    assert split["local_devices"] == 2 and split["devices"] == 2 and rate_sweep.programs[0].devices == 1
    for index, result in enumerate(rate_sweep.results):
        np.testing.assert_allclose(split["params"][index], _flat(result.policy_params[1]), rtol=1e-4, atol=1e-6)


def _flat(params) -> np.ndarray:
    import jax

    return np.concatenate([np.ravel(np.asarray(leaf, np.float64)) for leaf in jax.tree.leaves(params)])


def test_runs_that_differ_only_in_learning_rates_share_one_compiled_program(demos_root):
    """The rates are state, not constants: a run with rates drawn afresh (never compiled before,
    anywhere) finds every program it needs in the persistent compilation cache, put there by a
    run with other rates (this one's, or an earlier session's): what makes a changed
    --gail.disc-learning-rate cost no compile. The session's cache, so the first run is
    usually warm too."""
    import jax

    from imitax.algos.gail import train_gail
    from imitax.data.minari_io import load_demonstrations

    assert jax.config.jax_compilation_cache_dir, "the tests' compilation cache is off (see conftest.py)"
    rng = np.random.default_rng()  # unseeded on purpose: rates no earlier run compiled in
    first, second = (10 ** rng.uniform(-4.0, -2.5, size=2) for _ in range(2))
    demos = load_demonstrations("cartpole/expert-v0").transitions()
    config = dataclasses.replace(TINY_GAIL, disc_hidden_sizes=(12,), ppo=dataclasses.replace(TINY_GAIL.ppo, total_steps=512))

    def train(rates: np.ndarray) -> None:
        train_gail(imitax.make("CartPole-v1"), demos, dataclasses.replace(
            config, disc_learning_rate=float(rates[0]), ppo=dataclasses.replace(config.ppo, learning_rate=float(rates[1]))))

    events = []
    listener = lambda event, **_: events.append(event)  # noqa: E731
    jax.monitoring.register_event_listener(listener)
    try:
        train(first)
        events.clear()
        train(second)
    finally:
        jax.monitoring.unregister_event_listener(listener)
    requests = events.count("/jax/compilation_cache/compile_requests_use_cache")
    # every program the second run compiled came from the cache
    assert requests > 0 and events.count("/jax/compilation_cache/cache_hits") == requests, (first, second)
