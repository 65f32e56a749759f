"""Minari save/load round trips and the errors bad datasets get (synthetic data, no env)."""

from __future__ import annotations

import json
import warnings

import gymnasium
import minari
import numpy as np
import pytest
from episodes import random_episode
from minari.data_collector.episode_buffer import EpisodeBuffer

from imitax.data.minari_io import (
    Demonstrations,
    dataset_root,
    list_local_datasets,
    load_demonstrations,
    save_demonstrations,
)
from imitax.data.types import Trajectory
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import DatasetError, OutputError

CARTPOLE = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
PENDULUM = EnvSpec("Pendulum-v1", 3, Box((-2.0,), (2.0,)), 200)


@pytest.fixture
def datasets_root(tmp_path, monkeypatch):
    root = tmp_path / "minari-datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


make_episode = random_episode


def make_episodes(spec: EnvSpec, lengths=(5, 1, 9), terminated=(True, False, True), seed=0) -> list[Trajectory]:
    rng = np.random.default_rng(seed)
    return [make_episode(rng, spec, length, done) for length, done in zip(lengths, terminated)]


def save(dataset_id: str, trajectories, spec: EnvSpec, **kwargs):
    return save_demonstrations(dataset_id, trajectories, spec, expert_score=kwargs.pop("expert_score", 100.0),
                               random_score=kwargs.pop("random_score", 10.0), **kwargs)


def with_field(trajectory: Trajectory, **changes) -> Trajectory:
    fields = {"obs": trajectory.obs, "actions": trajectory.actions, "rewards": trajectory.rewards,
              "terminated": trajectory.terminated}
    return Trajectory(**{**fields, **changes})


def assert_same_episodes(loaded: list[Trajectory], original: list[Trajectory]) -> None:
    assert len(loaded) == len(original)
    for got, want in zip(loaded, original):
        np.testing.assert_array_equal(got.obs, want.obs)
        np.testing.assert_array_equal(got.actions, want.actions)
        np.testing.assert_array_equal(got.rewards, want.rewards)
        assert got.terminated == want.terminated
        assert got.obs.dtype == np.float32 and got.rewards.dtype == np.float32


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("spec", [CARTPOLE, PENDULUM], ids=["discrete", "box"])
def test_round_trip_keeps_everything(datasets_root, spec):
    trajectories = make_episodes(spec)
    path = save("imitax-test/expert-v0", trajectories, spec, expert_score=123.5, random_score=-7.25)
    assert path == datasets_root / "imitax-test" / "expert-v0"
    assert (path / "data" / "main_data.hdf5").is_file()

    demos = load_demonstrations("imitax-test/expert-v0")
    assert isinstance(demos, Demonstrations)
    assert demos.spec == spec
    assert (demos.expert_score, demos.random_score) == (123.5, -7.25)
    assert_same_episodes(demos.trajectories, trajectories)
    assert demos.trajectories[0].actions.dtype == spec.action_space.dtype
    assert demos.num_transitions == 15
    transitions = demos.transitions()
    assert len(transitions) == 15
    # episode boundaries: ends at steps 4, 5, 14; the second (length-1) episode was cut, not terminated
    np.testing.assert_array_equal(np.flatnonzero(transitions.terminated), [4, 14])
    np.testing.assert_array_equal(np.flatnonzero(transitions.truncated), [5])

    # also with the spec given, and by folder path
    assert_same_episodes(load_demonstrations("imitax-test/expert-v0", spec=spec).trajectories, trajectories)
    assert_same_episodes(load_demonstrations(str(path)).trajectories, trajectories)
    assert list_local_datasets() == ["imitax-test/expert-v0"]


def test_minari_reads_what_imitax_writes(datasets_root):
    trajectories = make_episodes(CARTPOLE)
    save("imitax-test/expert-v0", trajectories, CARTPOLE)
    dataset = minari.load_dataset("imitax-test/expert-v0")
    episodes = list(dataset.iterate_episodes())
    assert [len(episode) for episode in episodes] == [5, 1, 9]
    np.testing.assert_array_equal(episodes[2].observations, trajectories[2].obs)
    assert episodes[0].terminations[-1] and episodes[1].truncations[-1]
    assert dataset.spec.env_spec.id == "CartPole-v1"


def test_overwrite(datasets_root):
    save("imitax-test/expert-v0", make_episodes(CARTPOLE, seed=0), CARTPOLE)
    with pytest.raises(DatasetError, match="already exists.*overwrite.*another id.*imitax-test/expert-v1"):
        save("imitax-test/expert-v0", make_episodes(CARTPOLE, seed=1), CARTPOLE)
    replacement = make_episodes(CARTPOLE, lengths=(3,), terminated=(False,), seed=2)
    save("imitax-test/expert-v0", replacement, CARTPOLE, overwrite=True)
    assert_same_episodes(load_demonstrations("imitax-test/expert-v0").trajectories, replacement)
    assert sorted(p.name for p in datasets_root.iterdir()) == ["imitax-test"]  # no staging leftovers


def test_failed_save_leaves_nothing_behind(datasets_root):
    trajectories = make_episodes(PENDULUM)
    trajectories[1] = with_field(trajectories[1], obs=np.full_like(trajectories[1].obs, np.nan))
    with pytest.raises(DatasetError, match="NaN"):
        save("imitax-test/broken-v0", trajectories, PENDULUM)
    assert not (datasets_root / "imitax-test" / "broken-v0").exists()
    assert list_local_datasets() == []
    assert not datasets_root.exists() or not any(datasets_root.iterdir())


def test_failed_overwrite_keeps_the_old_dataset(datasets_root, monkeypatch):
    original = make_episodes(CARTPOLE)
    save("imitax-test/expert-v0", original, CARTPOLE)
    import imitax.data.minari_io as minari_io

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(minari_io, "_episode_buffer", fail)
    with pytest.raises(OutputError, match="disk full; expected a writable folder"):
        save("imitax-test/expert-v0", make_episodes(CARTPOLE, seed=3), CARTPOLE, overwrite=True)
    assert_same_episodes(load_demonstrations("imitax-test/expert-v0").trajectories, original)
    assert [p.name for p in datasets_root.iterdir()] == ["imitax-test"]


def test_foreign_dataset_loads(datasets_root):
    """Written by minari directly (no imitax spec), with a 2x2 Box observation to flatten."""
    rng = np.random.default_rng(0)
    buffers = []
    for index, length in enumerate((4, 6)):
        terminations = np.zeros(length, bool)
        truncations = np.zeros(length, bool)
        truncations[-1] = index == 1
        terminations[-1] = index == 0
        buffers.append(EpisodeBuffer(
            id=index,
            observations=rng.normal(size=(length + 1, 2, 2)).astype(np.float32),
            actions=rng.uniform(-1, 1, size=(length, 2)).astype(np.float32),
            rewards=list(rng.normal(size=length)),
            terminations=list(terminations),
            truncations=list(truncations),
        ))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # minari warns about missing author, code_permalink, ...
        minari.create_dataset_from_buffers(
            "foreign/mixed-v0", buffers, env=None,
            observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (2, 2), np.float32),
            action_space=gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32),
        )
    demos = load_demonstrations("foreign/mixed-v0")
    assert demos.spec is None and demos.expert_score is None and demos.random_score is None
    assert [len(t) for t in demos.trajectories] == [4, 6]
    assert [t.terminated for t in demos.trajectories] == [True, False]
    assert demos.trajectories[0].obs.shape == (5, 4)
    assert demos.trajectories[1].actions.shape == (6, 2)
    np.testing.assert_array_equal(demos.trajectories[1].obs, buffers[1].observations.reshape(7, 4))
    assert demos.trajectories[0].rewards.dtype == np.float32


def test_foreign_dict_observations_are_rejected(datasets_root):
    space = gymnasium.spaces.Dict({"a": gymnasium.spaces.Box(-1, 1, (2,), np.float32)})
    buffer = EpisodeBuffer(
        id=0, observations={"a": np.zeros((3, 2), np.float32)}, actions=np.zeros(2, np.int64),
        rewards=[0.0, 0.0], terminations=[False, True], truncations=[False, False],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minari.create_dataset_from_buffers("foreign/dict-v0", [buffer], env=None, observation_space=space,
                                           action_space=gymnasium.spaces.Discrete(2))
    with pytest.raises(DatasetError, match="unsupported observation space.*supported: a Box"):
        load_demonstrations("foreign/dict-v0")


# ---------------------------------------------------------------- bad data
# Bad episodes, damaged files and mismatched data are listed in tests/test_bad_inputs.py
# (one table for every bad input); tests/test_properties.py tries random ones.


def test_save_refuses_malformed_id_and_scores(datasets_root):
    with pytest.raises(DatasetError, match="malformed dataset id"):
        save("../escape", make_episodes(CARTPOLE), CARTPOLE)
    with pytest.raises(DatasetError, match="expert_score must be a finite number"):
        save("imitax-test/expert-v0", make_episodes(CARTPOLE), CARTPOLE, expert_score=float("nan"))


# ---------------------------------------------------------------- bad datasets on disk


@pytest.fixture
def saved_cartpole(datasets_root):
    return save("imitax-test/expert-v0", make_episodes(CARTPOLE), CARTPOLE)


def test_missing_dataset_lists_available(saved_cartpole, datasets_root):
    save("imitax-test/other-v3", make_episodes(CARTPOLE), CARTPOLE)
    with pytest.raises(DatasetError) as caught:
        load_demonstrations("imitax-test/expret-v0")
    message = str(caught.value)
    assert "'imitax-test/expret-v0'" in message and str(datasets_root) in message
    assert "available: imitax-test/expert-v0, imitax-test/other-v3" in message


def test_missing_dataset_in_empty_root(datasets_root):
    with pytest.raises(DatasetError, match="nope/demos-v0.*available: none"):
        load_demonstrations("nope/demos-v0")


def test_spec_mismatch_on_load(datasets_root):
    """Recorded as Discrete data for a Pendulum id; loading with the Box spec fails on actions."""
    save("imitax-test/odd-v0", make_episodes(CARTPOLE), EnvSpec("Pendulum-v1", 4, Discrete(2), 200))
    with pytest.raises(DatasetError, match="episode 0, observations"):
        load_demonstrations("imitax-test/odd-v0", spec=PENDULUM)
    with pytest.raises(DatasetError, match="episode 0, actions: expected float actions"):
        load_demonstrations("imitax-test/odd-v0", spec=EnvSpec("Pendulum-v1", 4, Box((-2.0,), (2.0,)), 200))


def write_raw_episodes(dataset_id: str, terminations: list[bool], truncations: list[bool]) -> None:
    length = len(terminations)
    buffer = EpisodeBuffer(
        id=0, observations=np.zeros((length + 1, 4), np.float32), actions=np.zeros(length, np.int64),
        rewards=[1.0] * length, terminations=terminations, truncations=truncations,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minari.create_dataset_from_buffers(dataset_id, [buffer], env=None,
                                           observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32),
                                           action_space=gymnasium.spaces.Discrete(2))


def test_episode_boundaries_on_load(datasets_root):
    write_raw_episodes("foreign/early-v0", [False, True, False], [False, False, False])
    with pytest.raises(DatasetError, match="episode 0, terminations: step 1 of 3 is marked True but is not the last"):
        load_demonstrations("foreign/early-v0")
    write_raw_episodes("foreign/both-v0", [False, True], [False, True])
    with pytest.raises(DatasetError, match="both terminated and truncated"):
        load_demonstrations("foreign/both-v0")
    write_raw_episodes("foreign/cut-v0", [False, False], [False, False])  # collection stopped mid-episode
    (cut,) = load_demonstrations("foreign/cut-v0", spec=CARTPOLE).trajectories
    assert cut.terminated is False and len(cut) == 2


def test_dataset_root_honours_env(datasets_root):
    assert dataset_root() == datasets_root
    assert list_local_datasets() == []
    json.dumps(CARTPOLE.to_dict())  # the recorded spec is plain JSON


def test_relative_datasets_root(tmp_path, monkeypatch):
    """A relative MINARI_DATASETS_PATH (minari's writer joined it to itself) saves and loads."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", "relative/datasets")
    episodes = make_episodes(CARTPOLE)
    path = save("relative/rel-v0", episodes, CARTPOLE)
    assert path == tmp_path / "relative" / "datasets" / "relative" / "rel-v0"
    assert_same_episodes(load_demonstrations("relative/rel-v0").trajectories, episodes)


def test_foreign_dataset_with_gymnasium_env_id(datasets_root):
    """minari records Gymnasium's env spec; imitax reads the env id and time limit from it."""
    rng = np.random.default_rng(1)
    buffer = EpisodeBuffer(
        id=0, observations=rng.normal(size=(4, 4)).astype(np.float32), actions=np.array([0, 1, 1], np.int64),
        rewards=[1.0, 1.0, 1.0], terminations=[False, False, True], truncations=[False, False, False],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minari.create_dataset_from_buffers("foreign/cartpole-v0", [buffer], env="CartPole-v1")
    (episode,) = load_demonstrations("foreign/cartpole-v0", spec=CARTPOLE).trajectories
    assert episode.terminated and episode.actions.dtype == np.int32
    with pytest.raises(DatasetError, match="another environment.*'CartPole-v1'"):
        load_demonstrations("foreign/cartpole-v0", spec=EnvSpec("Acrobot-v1", 4, Discrete(2), 500))


# --------------------------------------------------------------------------------------
# the user's own envs: class entry points, instances, minari's DataCollector


def _record_with_data_collector(env: gymnasium.Env, dataset_id: str, policy, episodes: int, **create_kwargs):
    collector = minari.DataCollector(env)
    for index in range(episodes):
        obs, _ = collector.reset(seed=index)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = collector.step(policy(obs))
            done = terminated or truncated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # minari warns about missing author, code_permalink, ...
        collector.create_dataset(dataset_id, algorithm_name="user", **create_kwargs)


def test_data_collector_datasets_load(datasets_root):
    import imitax
    import point_mass

    pendulum = gymnasium.make("Pendulum-v1")
    _record_with_data_collector(pendulum, "pendulum/collector-v0", lambda obs: pendulum.action_space.sample(), 2,
                                ref_min_score=-1200.0, ref_max_score=-150.0)
    demos = load_demonstrations("pendulum/collector-v0", spec=imitax.make("Pendulum-v1").spec)
    assert len(demos.trajectories) == 2 and [len(t) for t in demos.trajectories] == [200, 200]
    assert (demos.expert_score, demos.random_score) == (-150.0, -1200.0)
    # an unregistered instance (no spec): minari drops the reference scores, the episodes load
    instance = gymnasium.wrappers.TimeLimit(point_mass.PointMassEnv(), point_mass.HORIZON)
    _record_with_data_collector(instance, "pointmass/collector-v0", point_mass.pd_expert, 3,
                                ref_min_score=-165.0, ref_max_score=-5.4)
    spec = imitax.make(point_mass.ENV_ID, backend="gymnasium").spec
    demos = load_demonstrations("pointmass/collector-v0", spec=spec)
    assert len(demos.trajectories) == 3 and demos.expert_score is None and demos.spec is None
    trajectory = demos.trajectories[0]
    assert len(trajectory) == point_mass.HORIZON and not trajectory.terminated
    np.testing.assert_allclose(trajectory.actions, point_mass.pd_expert(trajectory.obs[:-1]), atol=1e-6)
    assert load_demonstrations("pointmass/collector-v0").num_transitions == 3 * point_mass.HORIZON


def test_save_for_class_entry_point_and_instance_envs(datasets_root):
    import imitax
    import point_mass

    for dataset_id, env in (("pointmass/registered-v0", imitax.make(point_mass.ENV_ID, backend="gymnasium")),
                            ("pointmass/instance-v0", imitax.make(point_mass.PointMassEnv()))):
        trajectories = make_episodes(env.spec, lengths=(4, 6), terminated=(False, False))
        save(dataset_id, trajectories, env.spec, expert_score=-5.0, random_score=-165.0)
        demos = load_demonstrations(dataset_id, spec=env.spec)
        assert demos.spec == env.spec and (demos.expert_score, demos.random_score) == (-5.0, -165.0)
        assert_same_episodes(demos.trajectories, trajectories)
