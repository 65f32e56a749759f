"""Sweeps on Ray (`imitax.sweep(..., ray=...)`, `imitax sweep ... --ray ADDRESS`): each program a
Ray Tune trial on a local Ray, the same parameters and scores as the sweep run here, bad Ray
options refused before anything is written. Budgets are tiny: these check the plumbing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings

import jax
import numpy as np
import pytest
import ray

import imitax
from imitax.algos.bc import BCConfig
from imitax.api.sweep_ray import RayCluster, _check_reachable
from imitax.cli import main
from imitax.errors import ConfigError
from imitax.io.policy_checkpoint import load_policy
from test_sweep import TINY_FLAGS, TINY_GAIL

TINY_BC = BCConfig(num_steps=200, log_every=100, hidden_sizes=(32,), eval_episodes=2)
BC_GRID = {"learning_rate": [1e-3, 3e-3]}  # compiled in: two programs, two trials


def _flat(params) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(params)])


def _hashes(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# The refusals come first: the module's Ray session (below) would stand in for any address.
@pytest.mark.parametrize("bad, match", [
    (["--ray-cpus-per-trial", "0"], "CPUs per Ray trial"),
    (["--ray-gpus-per-trial", "nan"], "--ray-gpus-per-trial is nan"),
    (["--ray-gpus-per-trial", "-1"], "GPUs per Ray trial"),
    (["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at '127.0.0.1:1'"),
    (["--ray", "no-port"], "not host:port"),
    (["--ray", " "], "is empty"),
])
def test_bad_ray_options_exit_2_with_one_line_and_write_nothing(demos_root, tmp_path, capsys, bad, match):
    (tmp_path / "keep.txt").write_text("x")
    before = _hashes(tmp_path)
    code = main(["sweep", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", *TINY_FLAGS,
                 "--grid", "gail.disc-learning-rate=1e-4,1e-3", *(bad if "--ray" in bad else ["--ray", "local", *bad]),
                 "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and match in err[0], err
    assert _hashes(tmp_path) == before
    assert not ray.is_initialized()


def test_a_sweep_on_ray_needs_an_env_id(demos_root):
    with pytest.raises(ConfigError, match="needs an env id"):
        imitax.sweep("bc", imitax.make("CartPole-v1"), "cartpole/expert-v0", grid=BC_GRID, config=TINY_BC, ray="local")
    with pytest.raises(ConfigError, match="cannot reach"):
        _check_reachable("127.0.0.1:1")
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def ray_session(demos_root):
    """A local Ray for the module's sweeps (each sweep uses it as the cluster it is given)."""
    with warnings.catch_warnings():  # Ray starts its processes with fork + exec, which JAX warns about
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_the_command_runs_its_programs_as_ray_trials_with_the_local_sweeps_results(ray_session, tmp_path, capsys):
    """`imitax sweep --ray`: BC's two learning rates are two programs (compiled in), two trials;
    the table's per-seed scores and the best point's saved policy equal the local sweep's. A
    budget too small to reach the expert, so the scores tell the runs apart. (`imitax.sweep` with
    a `RayCluster` is the search test's, below.)"""
    args = ["sweep", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--grid", "bc.learning-rate=1e-3,3e-3",
            "--bc.num-steps", "20", "--bc.log-every", "10", "--bc.hidden-sizes", "8", "--bc.eval-episodes", "2",
            "--num-seeds", "2", "--eval-episodes", "3", "--ray", "auto", "--ray-cpus-per-trial", "1",
            "--runs-dir", str(tmp_path), "--name", "sweep", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])  # stdout holds the result alone
    assert len(captured.out.strip().splitlines()) == 1
    assert "as Ray trials on auto" in captured.err
    assert out["num_programs"] == 2 and out["compile_s"] > 0 and out["train_s"] > 0
    summary = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [program["points"] for program in summary["programs"]] == [[0], [1]]

    config = BCConfig(num_steps=20, log_every=10, hidden_sizes=(8,), eval_episodes=2)
    local = imitax.sweep("bc", "CartPole-v1", "cartpole/expert-v0", grid=BC_GRID, config=config, num_seeds=2)
    here = [row["per_seed"] for row in local.evaluate(episodes=3).to_dict()["points"]]
    assert len({score for row in here for score in row}) > 1, here  # scores that can tell runs apart
    assert [row["learning_rate"] for row in summary["points"]] == [1e-3, 3e-3]
    assert [row["per_seed"] for row in summary["points"]] == here
    _, params, meta = load_policy(tmp_path / "sweep" / "checkpoint")
    best = local.results[local.points.index(meta["sweep_point"])]
    np.testing.assert_array_equal(_flat(params), _flat(best.policy_params[0]))
    assert main(["eval", str(tmp_path / "sweep"), "--episodes", "2"]) == 0


def test_an_optuna_search_runs_its_rounds_as_trials_with_a_gail_point_alone(ray_session):
    """Round 1's two points are one vmapped program, one trial; round 2 holds one point, a program
    that trains through `imitax.train` on the trial (it records GAIL's resolved per-episode
    context, as the sweep's plan does: read back and checked)."""
    config = dataclasses.replace(TINY_GAIL, ppo=dataclasses.replace(TINY_GAIL.ppo, total_steps=512))
    kwargs = dict(sample={"disc_learning_rate": (1e-4, 1e-2)}, num_samples=3, rounds=2, search="optuna", config=config,
                  search_episodes=2)
    remote = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", ray=RayCluster("auto", cpus_per_trial=1),
                          num_seeds=2, **kwargs)
    local = imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", num_seeds=2, **kwargs)
    assert [program.points for program in remote.programs] == [(0, 1), (2,)] and remote.points == local.points
    assert remote.programs[0].vmapped_fields == ("disc_learning_rate",)
    assert all(program.compile_s > 0 and program.run_s > 0 for program in remote.programs)
    assert remote.results[2].config == local.results[2].config and remote.results[2].config.disc_ignore_obs == ()
    for point in (1, 2):  # the vmapped program's second point, and the lone one
        there, here = remote.results[point], local.results[point]
        assert there.run_dir is None and there.env.spec == here.env.spec
        for seed in range(2):
            np.testing.assert_array_equal(_flat(there.policy_params[seed]), _flat(here.policy_params[seed]))
            np.testing.assert_array_equal(_flat(there.reward.params[seed]), _flat(here.reward.params[seed]))
        for name, values in here.history.items():
            np.testing.assert_array_equal(there.history[name], values)

