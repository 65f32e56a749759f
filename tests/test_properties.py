"""Property tests for the data layer (hypothesis).

- Any valid episodes (Discrete or Box actions, obs_dim 1..8, lengths 1..50, terminated or
  truncated, float32 values up to the largest finite magnitudes) survive
  save_demonstrations -> load_demonstrations bit for bit, with every episode boundary and flag.
- flatten_trajectories keeps counts, order and boundaries.
- Malformed episodes, damaged dataset files and damaged checkpoints raise ImitaxError
  subclasses, never anything else, and a refused save writes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imitax.data.minari_io import list_local_datasets, load_demonstrations, save_demonstrations
from imitax.data.types import Trajectory, flatten_trajectories
from imitax.data.validate import validate_trajectories
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import CheckpointError, DatasetError, ImitaxError
from imitax.io.policy_checkpoint import load_policy, save_policy
from imitax.nets.policy import Policy

EXAMPLES = int(os.environ.get("IMITAX_PROPERTY_EXAMPLES", "30"))  # raise it for a longer bug hunt
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FILE_SETTINGS = settings(max_examples=EXAMPLES * 4 // 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FINITE_F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
DATASET_ID = "prop/demos-v0"


@contextlib.contextmanager
def dataset_root() -> Iterator[Path]:
    """A fresh MINARI_DATASETS_PATH for one example (hypothesis runs many per test function)."""
    previous = os.environ.get("MINARI_DATASETS_PATH")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MINARI_DATASETS_PATH"] = folder
        try:
            yield Path(folder)
        finally:
            if previous is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = previous


# ---------------------------------------------------------------------------- strategies


@st.composite
def box_spaces(draw) -> Box:
    dim = draw(st.integers(1, 3))
    lows, highs = [], []
    for _ in range(dim):
        low = draw(st.floats(-1e6, 1e6, width=32))
        high = draw(st.floats(low, 1e6, width=32))
        lows.append(float(low))
        highs.append(float(high))
    return Box(tuple(lows), tuple(highs))


@st.composite
def specs(draw) -> EnvSpec:
    action_space = draw(st.one_of(st.integers(1, 6).map(Discrete), box_spaces()))
    return EnvSpec(draw(st.sampled_from(["CartPole-v1", "Pendulum-v1", "Custom-v0"])), draw(st.integers(1, 8)),
                   action_space, 500)


@st.composite
def episodes(draw, spec: EnvSpec) -> Trajectory:
    length = draw(st.integers(1, 50))
    obs = draw(hnp.arrays(np.float32, (length + 1, spec.obs_dim), elements=FINITE_F32))
    space = spec.action_space
    if isinstance(space, Discrete):
        actions = draw(hnp.arrays(np.int32, (length,), elements=st.integers(0, space.n - 1)))
    else:
        columns = [draw(hnp.arrays(np.float32, (length,), elements=st.floats(lo, hi, width=32)))
                   for lo, hi in zip(space.low, space.high)]
        actions = np.stack(columns, axis=1)
    rewards = draw(hnp.arrays(np.float32, (length,), elements=FINITE_F32))
    return Trajectory(obs, actions, rewards, draw(st.booleans()))


@st.composite
def datasets(draw) -> tuple[EnvSpec, list[Trajectory]]:
    spec = draw(specs())
    return spec, draw(st.lists(episodes(spec), min_size=1, max_size=4))


def bits(values: np.ndarray) -> np.ndarray:
    """The raw bytes of an array, so that -0.0 != 0.0 and equality is bit-exact."""
    return np.ascontiguousarray(values).view(np.uint8)


# ---------------------------------------------------------------------------- round trips


@SETTINGS
@given(datasets())
def test_minari_round_trip_keeps_every_array_and_boundary(dataset):
    spec, trajectories = dataset
    with dataset_root():
        save_demonstrations(DATASET_ID, trajectories, spec, expert_score=1.0, random_score=0.0)
        loaded = load_demonstrations(DATASET_ID, spec=spec)
    assert loaded.spec == spec and len(loaded.trajectories) == len(trajectories)
    for got, want in zip(loaded.trajectories, trajectories):
        assert got.obs.dtype == np.float32 and got.rewards.dtype == np.float32
        assert got.actions.dtype == spec.action_space.dtype
        assert got.obs.shape == want.obs.shape and got.actions.shape == want.actions.shape
        assert np.array_equal(bits(got.obs), bits(want.obs))
        assert np.array_equal(bits(got.rewards), bits(want.rewards))
        assert np.array_equal(bits(got.actions), bits(want.actions.astype(spec.action_space.dtype)))
        assert got.terminated is want.terminated and len(got) == len(want)


@SETTINGS
@given(datasets())
def test_flatten_keeps_counts_order_and_boundaries(dataset):
    _, trajectories = dataset
    flat = flatten_trajectories(trajectories)
    lengths = [len(t) for t in trajectories]
    assert len(flat) == sum(lengths)
    ends = np.cumsum(lengths) - 1
    done = np.zeros(len(flat), bool)
    done[ends] = True
    assert np.array_equal(flat.dones, done)
    assert np.array_equal(flat.terminated, done & np.repeat([t.terminated for t in trajectories], lengths))
    assert np.array_equal(flat.truncated, done & np.repeat([not t.terminated for t in trajectories], lengths))
    assert not np.any(flat.terminated & flat.truncated)
    assert np.array_equal(bits(flat.obs), bits(np.concatenate([t.obs[:-1] for t in trajectories])))
    assert np.array_equal(bits(flat.next_obs), bits(np.concatenate([t.obs[1:] for t in trajectories])))
    assert np.array_equal(flat.actions, np.concatenate([t.actions for t in trajectories]))
    assert np.array_equal(bits(flat.rewards), bits(np.concatenate([t.rewards for t in trajectories])))
    # within an episode, next_obs of step i is obs of step i + 1
    inside = ~done[:-1]
    assert np.array_equal(bits(flat.next_obs[:-1][inside]), bits(flat.obs[1:][inside]))


# ---------------------------------------------------------------------------- malformed episodes


MUTATIONS = ("obs_extra_column", "obs_missing_row", "obs_flat", "non_finite_obs", "non_finite_reward", "non_finite_action",
             "wrong_action_dtype", "action_out_of_range", "rewards_length", "actions_length", "obs_dtype",
             "terminated_not_bool", "no_episodes", "zero_length")


@st.composite
def malformed(draw) -> tuple[EnvSpec, list[Trajectory], str]:
    spec, trajectories = draw(datasets())
    mutation = draw(st.sampled_from(MUTATIONS))
    if mutation == "no_episodes":
        return spec, [], mutation
    index = draw(st.integers(0, len(trajectories) - 1))
    t = trajectories[index]
    n, space = len(t), spec.action_space
    obs, actions, rewards, terminated = t.obs.copy(), t.actions.copy(), t.rewards.copy(), t.terminated
    bad = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if mutation == "obs_extra_column":
        obs = np.concatenate([obs, obs[:, :1]], axis=1)
    elif mutation == "obs_missing_row":
        obs = obs[:-1]
    elif mutation == "obs_flat":
        obs = obs.reshape(-1)
    elif mutation == "non_finite_obs":
        obs[draw(st.integers(0, n)), draw(st.integers(0, spec.obs_dim - 1))] = bad
    elif mutation == "non_finite_reward":
        rewards[draw(st.integers(0, n - 1))] = bad
    elif mutation == "non_finite_action":
        if isinstance(space, Discrete):
            actions = actions.astype(np.float32)
            actions[draw(st.integers(0, n - 1))] = bad  # float data for a Discrete space, and not finite
        else:
            actions[draw(st.integers(0, n - 1)), draw(st.integers(0, space.shape[0] - 1))] = bad
    elif mutation == "wrong_action_dtype":
        actions = actions.astype(np.float32) if isinstance(space, Discrete) else np.zeros(n, np.int32)
    elif mutation == "action_out_of_range":
        step = draw(st.integers(0, n - 1))
        if isinstance(space, Discrete):
            actions[step] = draw(st.sampled_from([space.n, space.n + 7, -1]))
        else:
            column = draw(st.integers(0, space.shape[0] - 1))
            low, high = space.low[column], space.high[column]
            margin = 1.0 + 1e-3 * max(abs(low), abs(high), 1.0)
            actions[step, column] = np.float32(high + margin if draw(st.booleans()) else low - margin)
    elif mutation == "rewards_length":
        rewards = np.concatenate([rewards, rewards[:1]]) if draw(st.booleans()) else rewards[:-1]
    elif mutation == "actions_length":
        actions = np.concatenate([actions, actions[:1]])
    elif mutation == "obs_dtype":
        obs = draw(st.sampled_from([obs.astype(object), obs.astype(np.complex64), obs.astype(str)]))
    elif mutation == "terminated_not_bool":
        terminated = draw(st.sampled_from([None, "yes", 1.0, [True]]))
    elif mutation == "zero_length":
        obs, actions, rewards = obs[:1], actions[:0], rewards[:0]
    trajectories = list(trajectories)
    trajectories[index] = Trajectory(obs, actions, rewards, terminated)
    return spec, trajectories, mutation


@SETTINGS
@given(malformed())
def test_malformed_episodes_raise_dataset_errors_and_write_nothing(case):
    spec, trajectories, mutation = case
    with pytest.raises(DatasetError, match="^random.hdf5: "):
        validate_trajectories(trajectories, spec, source="random.hdf5")
    with dataset_root() as root:
        with pytest.raises(DatasetError, match=f"^{DATASET_ID}: "):
            save_demonstrations(DATASET_ID, trajectories, spec, expert_score=1.0, random_score=0.0)
        assert list_local_datasets() == [] and list(root.iterdir()) == []


# ---------------------------------------------------------------------------- damaged files


@st.composite
def damage(draw) -> tuple[str, int, bytes]:
    """(how, where as a fraction in parts per million, replacement bytes)."""
    how = draw(st.sampled_from(["truncate", "overwrite", "insert"]))
    return how, draw(st.integers(0, 1_000_000)), draw(st.binary(min_size=1, max_size=64))


def apply_damage(path: Path, how: str, where: int, noise: bytes) -> None:
    data = path.read_bytes()
    at = len(data) * where // 1_000_000
    if how == "truncate":
        data = data[:at]
    elif how == "overwrite":
        data = data[:at] + noise + data[at + len(noise):]
    else:
        data = data[:at] + noise + data[at:]
    path.write_bytes(data)


@FILE_SETTINGS
@given(damage(), st.sampled_from(["main_data.hdf5", "metadata.json"]))
def test_damaged_dataset_files_raise_only_dataset_errors(damage_spec, file_name):
    spec = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
    rng = np.random.default_rng(0)
    trajectories = [Trajectory(rng.normal(size=(n + 1, 4)).astype(np.float32), rng.integers(0, 2, n).astype(np.int32),
                               rng.normal(size=n).astype(np.float32), bool(n % 2)) for n in (3, 9, 4)]
    with dataset_root():
        folder = save_demonstrations(DATASET_ID, trajectories, spec, expert_score=1.0, random_score=0.0)
        apply_damage(folder / "data" / file_name, *damage_spec)
        try:
            loaded = load_demonstrations(DATASET_ID, spec=spec)
        except ImitaxError as error:
            assert isinstance(error, DatasetError) and DATASET_ID in str(error)
            event(f"{file_name}: refused")
        else:  # the damage missed everything that matters: what loads is still valid
            validate_trajectories(loaded.trajectories, spec, source="reloaded")
            event(f"{file_name}: loaded")


@st.composite
def json_values(draw):
    return draw(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                             max_leaves=6))


@SETTINGS
@given(st.sampled_from(["imitax_spec", "observation_space", "action_space", "total_episodes", "data_format",
                        "env_spec", "ref_max_score"]), json_values())
def test_random_metadata_values_raise_only_dataset_errors(key, value):
    spec = EnvSpec("Pendulum-v1", 3, Box((-2.0,), (2.0,)), 200)
    rng = np.random.default_rng(1)
    trajectories = [Trajectory(rng.normal(size=(6, 3)).astype(np.float32), rng.uniform(-2, 2, (5, 1)).astype(np.float32),
                               rng.normal(size=5).astype(np.float32), False)]
    with dataset_root():
        folder = save_demonstrations(DATASET_ID, trajectories, spec, expert_score=1.0, random_score=0.0)
        metadata_file = folder / "data" / "metadata.json"
        metadata = json.loads(metadata_file.read_text())
        metadata[key] = value
        metadata_file.write_text(json.dumps(metadata))
        try:
            load_demonstrations(DATASET_ID)
        except ImitaxError as error:
            assert isinstance(error, DatasetError), repr(error)
            event("refused")
        else:
            event("loaded")


@FILE_SETTINGS
@given(damage(), st.sampled_from(["params.msgpack", "meta.json"]))
def test_damaged_checkpoints_raise_only_checkpoint_errors(damage_spec, file_name):
    spec = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
    policy = Policy(spec, (4,), "tanh")
    with tempfile.TemporaryDirectory() as folder:
        path = save_policy(Path(folder) / "checkpoint", policy, policy.init(jax.random.PRNGKey(0)))
        apply_damage(path / file_name, *damage_spec)
        try:
            load_policy(path)
        except ImitaxError as error:
            assert isinstance(error, CheckpointError), repr(error)
            event(f"{file_name}: refused")
        else:
            event(f"{file_name}: loaded")
