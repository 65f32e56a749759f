"""Observation features fixed per episode (a goal drawn at reset): found in few demonstrations,
and `imitax train` (and `imitax.train`) for the methods that fail on them say so in one warning."""

from __future__ import annotations

import json

import numpy as np
import point_mass
import pytest

import imitax
from imitax.algos.gail import GAILConfig
from imitax.data.episode_context import context_features, context_warning, first_observations, per_episode_context
from imitax.data.types import Trajectory


def _trajectory(obs: np.ndarray) -> Trajectory:
    length = obs.shape[0] - 1
    return Trajectory(obs=obs.astype(np.float32), actions=np.zeros(length, np.int32),
                      rewards=np.zeros(length, np.float32), terminated=False)


def test_only_features_fixed_in_every_demo_and_drawn_anew_at_reset_are_context():
    steps = np.linspace(0.0, 1.0, 11)[:, None]
    # features: 0 moves within the episode, 1 is fixed per episode, 2 is the same constant everywhere
    demos = [_trajectory(np.hstack([steps, np.full((11, 1), goal), np.full((11, 1), 3.0)])) for goal in (0.2, -0.7)]
    first_obs = np.array([[0.0, 0.5, 3.0], [0.1, -0.4, 3.0], [0.0, 0.9, 3.0]])
    assert per_episode_context(demos, first_obs) == [1]
    assert per_episode_context(demos, first_obs[:, [0, 2, 2]]) == []  # fixed per episode, but never drawn anew


def test_the_point_mass_goal_is_context_and_cartpole_has_none():
    env = imitax.make(point_mass.ENV_ID, backend="gymnasium")
    obs = np.zeros((101, 6))
    obs[:, 4:6] = [0.3, -0.2]  # the goal, fixed for the episode
    obs[:, 0:4] = np.random.default_rng(0).normal(size=(101, 4))
    first_obs = first_observations(env, seed=0)
    assert first_obs.shape == (16, 6)
    assert per_episode_context([_trajectory(obs)], first_obs) == [4, 5]
    assert context_features(env, [_trajectory(obs)], seed=0) == [4, 5]
    assert context_features(env, [_trajectory(obs)] * 5, seed=0) == []  # enough demonstrations
    warning = context_warning([4, 5], 1, "--gail.disc-ignore-obs")
    assert warning.startswith("observation features 4, 5 are fixed within the one demonstration")
    assert warning.endswith("hiding them from the discriminator (--gail.disc-ignore-obs 4 5)")

    cartpole = imitax.make("CartPole-v1")
    moving = np.random.default_rng(1).normal(size=(50, 4))
    assert context_features(cartpole, [_trajectory(moving)], seed=0) == []


def test_train_gail_from_one_point_mass_demo_hides_the_goal_from_its_discriminator_and_says_so(tmp_path, monkeypatch,
                                                                                                capsys):
    from imitax.cli import main

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    imitax.collect(point_mass.ENV_ID, point_mass.pd_expert, episodes=1, dataset_id="pointmass/one-v0", reference_episodes=20)
    capsys.readouterr()
    common = ["train", "gail", f"point_mass:{point_mass.ENV_ID}", "--backend", "gymnasium", "--demos", "pointmass/one-v0",
              "--gail.ppo.total-steps", "2048", "--gail.ppo.num-envs", "4", "--eval-episodes", "2", "--no-progress"]

    def run(folder: str, *extra: str) -> tuple[list[str], dict, dict]:
        assert main([*common, *extra, "--runs-dir", str(tmp_path / folder)]) == 0
        err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
        (run_dir,) = (tmp_path / folder).iterdir()
        config = json.loads((run_dir / "config.json").read_text())
        return err, config, json.loads((run_dir / "reward" / "meta.json").read_text())

    # by default the goal (features 4, 5) is hidden from the discriminator: recorded, and said once
    err, config, reward = run("default")
    assert err == ["imitax train gail: warning: " + context_warning([4, 5], 1, "--gail.disc-ignore-obs", hidden=True)]
    assert config["gail"]["disc_ignore_obs"] == [4, 5] and reward["network"]["ignore_obs"] == [4, 5]
    # shown on request (the option with no index): the warning names the remedy instead
    err, config, reward = run("shown", "--gail.disc-ignore-obs")
    assert err == ["imitax train gail: warning: " + context_warning([4, 5], 1, "--gail.disc-ignore-obs")]
    assert config["gail"]["disc_ignore_obs"] == [] and reward["network"]["ignore_obs"] == []
    # hidden explicitly: nothing left to warn about
    err, _, reward = run("hidden", "--gail.disc-ignore-obs", "4", "5")
    assert err == [] and reward["network"]["ignore_obs"] == [4, 5]

    # the Python API does the same (a UserWarning), and so does train_gail on flattened transitions
    config = GAILConfig.for_env(point_mass.ENV_ID, ppo={"total_steps": 2048, "num_envs": 4})
    env = imitax.make(point_mass.ENV_ID, backend="gymnasium")
    with pytest.warns(UserWarning, match=r"gail: observation features 4, 5 are fixed within the one demonstration.*"
                                         r"the discriminator does not see them"):
        result = imitax.train("gail", env, "pointmass/one-v0", config=config)
    assert result.config.disc_ignore_obs == (4, 5)
    from imitax.algos.gail import train_gail
    from imitax.data.minari_io import load_demonstrations

    trained = train_gail(env, load_demonstrations("pointmass/one-v0").transitions(), config)
    assert trained.algo.config.disc_ignore_obs == (4, 5) and trained.algo.discriminator.ignore_obs == (4, 5)
    # AIRL too: its g and h, and the reward it saves
    assert main(["train", "airl", f"point_mass:{point_mass.ENV_ID}", "--backend", "gymnasium", "--demos", "pointmass/one-v0",
                 "--airl.ppo.total-steps", "2048", "--airl.ppo.num-envs", "4", "--eval-episodes", "2", "--no-progress",
                 "--runs-dir", str(tmp_path / "airl")]) == 0
    assert "the discriminator does not see them" in capsys.readouterr().err
    (airl_run,) = (tmp_path / "airl").iterdir()
    assert json.loads((airl_run / "config.json").read_text())["airl"]["disc_ignore_obs"] == [4, 5]
    assert json.loads((airl_run / "reward" / "meta.json").read_text())["network"]["ignore_obs"] == [4, 5]


def test_episodes_are_recovered_from_flattened_transitions():
    from imitax.data.episode_context import episodes_of
    from imitax.data.types import flatten_trajectories

    rng = np.random.default_rng(3)
    trajectories = [Trajectory(rng.normal(size=(n + 1, 2)).astype(np.float32), np.zeros(n, np.int32),
                               np.zeros(n, np.float32), terminated) for n, terminated in ((4, True), (6, False), (1, False))]
    recovered = episodes_of(flatten_trajectories(trajectories))
    assert [len(e) for e in recovered] == [4, 6, 1] and [e.terminated for e in recovered] == [True, False, False]
    for original, episode in zip(trajectories, recovered):
        np.testing.assert_array_equal(original.obs, episode.obs)


def test_the_discriminator_does_not_see_ignored_features_and_bad_indices_are_refused():
    import jax
    import pytest

    from imitax.algos.gail import GAIL
    from imitax.data.types import Transitions
    from imitax.errors import ConfigError
    from imitax.nets.airl_reward import AIRLRewardNet
    from imitax.nets.discriminator import Discriminator
    from imitax.nets.normalizer import ObsNormalizer

    env = imitax.make(point_mass.ENV_ID, backend="gymnasium")
    obs = np.random.default_rng(2).normal(size=(8, 6)).astype(np.float32)
    other_goals = obs.copy()
    other_goals[:, 4:6] += 3.0

    def transitions(o):
        return Transitions(obs=o, actions=np.zeros((8, 2), np.float32), rewards=np.zeros(8, np.float32), next_obs=o,
                           terminated=np.zeros(8, bool), truncated=np.zeros(8, bool))

    for ignore, same in (((4, 5), True), ((), False)):
        net = Discriminator(env.spec, (16,), ignore_obs=ignore)
        params = net.init(jax.random.PRNGKey(0), ObsNormalizer.identity(6))
        equal = np.allclose(net.logits(params, transitions(obs)), net.logits(params, transitions(other_goals)))
        assert equal == same
        airl = AIRLRewardNet(env.spec, (16,), state_only=False, ignore_obs=ignore)  # g and h alike
        params = airl.init(jax.random.PRNGKey(0), ObsNormalizer.identity(6))
        equal = np.allclose(airl.shaped_reward(params, transitions(obs)), airl.shaped_reward(params, transitions(other_goals)))
        assert equal == same
    with pytest.raises(ConfigError, match=r"disc_ignore_obs is \[6\]; the observation has 6 features"):
        GAIL(GAILConfig(disc_ignore_obs=(6,)), env.spec)
    with pytest.raises(ConfigError, match=r"gail.disc_ignore_obs is \[1, 1\]; expected distinct"):
        GAILConfig(disc_ignore_obs=(1, 1)).validate()
