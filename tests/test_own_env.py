"""The user's own env and expert: a class-entry-point env (tests/point_mass.py) and a NumPy
PD controller, recorded with `imitax.collect` or `imitax collect --policy`, learned by BC;
parallel copies of instances; equal or inverted reference scores; the README's example.

GAIL's and AIRL's defaults on this env (nothing tuned on it) are measured by
benchmarks/heldout.py over 5 seeds at the default budget (GAIL 0.961 from 10 demos, 2026-11-28):
512k env steps of the host loop are a benchmark's budget, not a test's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import jax
import numpy as np
import point_mass
import pytest

import imitax
from imitax.algos.bc import BCConfig, train_bc
from imitax.data.minari_io import load_demonstrations
from imitax.errors import ConfigError
from imitax.eval import evaluate_policy, normalized_score
from imitax.rl.loop import seed_slice

TESTS = Path(__file__).parent
README = TESTS.parent / "README.md"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """10 episodes of the NumPy expert on the point mass, as a Minari dataset."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(tmp_path_factory.mktemp("minari")))
    result = imitax.collect(point_mass.ENV_ID, point_mass.pd_expert, episodes=10, dataset_id="pointmass/expert-v0",
                            reference_episodes=50)
    yield result, load_demonstrations("pointmass/expert-v0")
    mp.undo()


def test_collect_records_the_numpy_expert_with_reference_scores(recorded):
    result, demos = recorded
    assert result.returns.shape == (10,) and result.lengths.tolist() == [100] * 10
    assert -8.0 < result.expert_score < -3.0 and -250.0 < result.random_score < -120.0
    assert demos.expert_score == result.expert_score and demos.random_score == result.random_score
    assert demos.spec == imitax.make(point_mass.ENV_ID, backend="gymnasium").spec
    assert demos.spec.env_id == point_mass.ENV_ID and demos.spec.max_episode_steps == point_mass.HORIZON
    assert len(demos.trajectories) == 10 and not any(t.terminated for t in demos.trajectories)
    first = demos.trajectories[0]
    np.testing.assert_allclose(first.actions, point_mass.pd_expert(first.obs[:-1]), atol=1e-6)
    np.testing.assert_allclose([t.episode_return for t in demos.trajectories], result.returns, rtol=1e-5)
    metadata = json.loads((result.path / "data" / "metadata.json").read_text())
    assert "env_spec" not in metadata  # a class entry point cannot be written as JSON; the scores are kept anyway
    assert metadata["ref_max_score"] == result.expert_score


def test_bc_learns_the_recorded_expert(recorded):
    _, demos = recorded
    env = imitax.make(point_mass.ENV_ID, backend="gymnasium")
    bc = train_bc(demos.transitions(), env.spec, BCConfig(num_steps=600, log_every=300, hidden_sizes=(64, 64)))
    returns = evaluate_policy(env, bc.bc.policy, seed_slice(bc.params, 0), jax.random.PRNGKey(0), 20)
    score = normalized_score(returns.mean, demos.random_score, demos.expert_score)
    assert score > 0.8, score


def test_collect_cli_with_a_policy_function(tmp_path):
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path), "PYTHONPATH": str(TESTS)}
    argv = [sys.executable, "-m", "imitax.cli", "collect", point_mass.ENV_ID, "--policy", "point_mass:pd_expert",
            "--episodes", "3", "--reference-episodes", "10", "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["dataset_id"] == "pointmass/expert-v0" and out["episodes"] == 3 and out["policy"] == "point_mass:pd_expert"
    assert out["expert_score"] > out["random_score"] + 100
    proc = subprocess.run([*argv[:6], "point_mass:nope", *argv[7:]], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no attribute 'nope'" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "pointmass").iterdir() if p.is_dir()) == ["expert-v0"]


def test_the_module_env_id_form_trains_from_the_cli(recorded, tmp_path, monkeypatch):
    from imitax.cli import main

    result, _ = recorded
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(result.path.parent.parent))
    module_id = f"point_mass:{point_mass.ENV_ID}"
    common = ["--demos", "pointmass/expert-v0", "--runs-dir", str(tmp_path), "--no-progress", "--eval-episodes", "2"]
    assert main(["train", "bc", module_id, *common, "--bc.num-steps", "20", "--bc.log-every", "10"]) == 2  # jax backend
    assert main(["train", "bc", module_id, *common, "--bc.num-steps", "20", "--bc.log-every", "10",
                 "--backend", "gymnasium"]) == 0
    assert [p.name.startswith("bc-imitax_test-PointMass-v0-") for p in tmp_path.iterdir()] == [True]


def test_policy_that_takes_a_batch():
    calls = []

    def batched_expert(obs):
        calls.append(obs.shape)
        return point_mass.pd_expert(obs)

    env = imitax.make(point_mass.PointMassEnv, backend="gymnasium")  # a class: copies can be made
    from imitax.record import as_host_env, policy_act
    from imitax.data.rollout import record_episodes

    recorder = as_host_env(env).with_num_envs(4)
    episodes = record_episodes(recorder, policy_act(batched_expert, recorder, batched=True), 4, seed=0)
    assert len(episodes) == 4 and calls[0] == (4, 6)
    assert np.mean([t.episode_return for t in episodes]) > -100  # 1000-step default limit, the PD expert reaches the goal


def test_instances_need_a_factory_for_parallel_copies():
    instance = point_mass.PointMassEnv()
    with pytest.raises(ConfigError, match="pass a factory"):
        imitax.make(instance, num_envs=16)
    single = imitax.make(instance)
    with pytest.raises(ConfigError, match="single copy"):
        single.with_num_envs(16)
    for env in (imitax.make(point_mass.PointMassEnv, num_envs=16),
                imitax.make(instance, factory=point_mass.PointMassEnv, num_envs=16),
                single.with_num_envs(1)):
        assert env.spec.obs_dim == 6
    with pytest.raises(ConfigError, match="the factory makes a different environment than the instance"):
        imitax.make(instance, factory=lambda: gym.wrappers.TimeLimit(point_mass.PointMassEnv(), 100), num_envs=4)
    limited = gym.wrappers.TimeLimit(point_mass.PointMassEnv(), 100)
    parallel = imitax.make(limited, factory=lambda: gym.wrappers.TimeLimit(point_mass.PointMassEnv(), 100), num_envs=4)
    assert parallel.num_envs == 4 and parallel.spec.max_episode_steps == 100
    assert parallel.with_num_envs(16).num_envs == 16 and parallel.reset(seed=0).shape == (4, 6)


def test_copies_of_a_registered_instance_keep_its_make_arguments_and_wrappers():
    """Evaluation, recording and PPO's 16 envs copy an instance: gymnasium.make(instance.spec),
    not the bare id, which would run another task (default gravity, no reward clipping)."""
    from imitax.data.rollout import collect_episodes
    from imitax.eval import evaluate

    # no gravity: with zero torque the angular velocity never changes; every reward clipped to -1
    instance = gym.wrappers.ClipReward(gym.make("Pendulum-v1", g=0.0, max_episode_steps=30), -1.0, -1.0)
    env = imitax.make(instance)

    def zero_torque(key, obs):
        return np.zeros((obs.shape[0], 1), np.float32)

    result = evaluate(env, zero_torque, jax.random.PRNGKey(0), 3)
    assert result.returns.tolist() == [-30.0, -30.0, -30.0]
    for episode in collect_episodes(env, zero_torque, jax.random.PRNGKey(1), 3):
        velocity = np.asarray(episode.obs)[:, 2]
        assert np.ptp(velocity) < 1e-5 and np.ptp(np.asarray(episode.obs)[:, 1]) > 0  # it turns, never speeding up
    assert imitax.make(instance, num_envs=4).reset(seed=0).shape == (4, 3)

    class Unrecorded(gym.Wrapper):  # no RecordConstructorArgs: gymnasium cannot remake it
        pass

    with pytest.raises(ConfigError, match="pass a factory.*cannot remake it from its spec"):
        imitax.make(Unrecorded(gym.make("Pendulum-v1"))).with_num_envs(2)


def test_equal_or_inverted_references_are_an_error():
    for random_score, expert_score in ((-200.0, -200.0), (10.0, 5.0)):
        with pytest.raises(ConfigError, match=f"expert reference {expert_score} is not above the random reference {random_score}"):
            normalized_score(-150.0, random_score, expert_score)
    from imitax.commands.common import score_table
    from imitax.eval import EvalResult

    with pytest.raises(ConfigError, match="expected an expert that beats"):
        score_table([EvalResult(np.array([-200.0]), np.array([200]))], -200.0, -200.0)
    assert normalized_score(-150.0, -200.0, -100.0) == 0.5


def test_collect_refuses_a_weak_expert_before_writing(minari_root):
    def runs_away(obs):
        return -point_mass.pd_expert(obs)

    with pytest.raises(ConfigError, match="refusing to save 'pointmass/weak-v0'.*is not above the random reference.*"
                                          "allow_weak_expert=True"):
        imitax.collect(point_mass.ENV_ID, runs_away, episodes=2, dataset_id="pointmass/weak-v0", reference_episodes=4)
    assert not minari_root.exists() or not any(minari_root.rglob("*weak*"))
    result = imitax.collect(point_mass.ENV_ID, runs_away, episodes=2, dataset_id="pointmass/weak-v0",
                            reference_episodes=2, allow_weak_expert=True)
    assert load_demonstrations("pointmass/weak-v0").expert_score == result.expert_score


def test_train_refuses_a_dataset_with_inverted_references_before_training(minari_root, tmp_path):
    """A dataset saved with allow_weak_expert whose expert loses to random: `imitax train` says
    so in one line and exits 2 before it creates a run folder or trains."""
    imitax.collect(point_mass.ENV_ID, lambda obs: -point_mass.pd_expert(obs), episodes=2, dataset_id="pointmass/weak-v0",
                   reference_episodes=2, allow_weak_expert=True)
    env = {**os.environ, "PYTHONPATH": str(TESTS), "MINARI_DATASETS_PATH": str(minari_root)}
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "imitax.cli", "train", "bc", f"point_mass:{point_mass.ENV_ID}",
                           "--backend", "gymnasium", "--demos", "pointmass/weak-v0", "--runs-dir", str(runs)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "pointmass/weak-v0: expert reference" in proc.stderr and "is not above the random reference" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not runs.exists()


def test_readme_example_runs(minari_root):
    """The README's "Your own environment and expert" block, with small budgets."""
    section = README.read_text().split("## Your own environment and expert", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    small = {
        'BCConfig()': 'BCConfig(num_steps=100, log_every=50)',
        'GAILConfig.for_env(env.spec.env_id)': 'GAILConfig.for_env(env.spec.env_id, ppo={"total_steps": 4096})',
        'episodes=10, dataset_id': 'episodes=3, reference_episodes=10, dataset_id',
        'num_episodes=100': 'num_episodes=4',
    }
    for old, new in small.items():
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    namespace: dict = {"__name__": "readme"}
    try:
        exec(compile(code, str(README), "exec"), namespace)
    finally:
        gym.registry.pop("my_envs/PointMass-v0", None)
    assert namespace["recorded"].expert_score > namespace["recorded"].random_score + 100
    assert namespace["gail"].env_steps == 4096

