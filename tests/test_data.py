"""Data layer: rollouts cut into episodes correctly, transitions flatten correctly."""

import jax
import numpy as np

import imitax
from imitax.data.rollout import collect_episodes
from imitax.data.types import flatten_trajectories
from imitax.eval import random_policy


def test_collect_episodes_boundaries_jax():
    env = imitax.make("CartPole-v1")
    trajectories = collect_episodes(env, random_policy(env.spec), jax.random.PRNGKey(0), 5)
    assert len(trajectories) == 5
    for t in trajectories:
        assert t.obs.shape == (len(t) + 1, 4)
        assert t.terminated == (len(t) < 500)
        assert t.episode_return == len(t)
        # consecutive observations are one step apart, not a reset in the middle
        assert np.abs(np.diff(t.obs[:, 0])).max() < 0.1


def test_collect_clips_box_actions_and_truncates():
    env = imitax.make("Pendulum-v1")
    trajectories = collect_episodes(env, lambda k, o: 10.0 * jax.numpy.ones((o.shape[0], 1)), jax.random.PRNGKey(0), 3)
    assert all(len(t) == 200 and not t.terminated for t in trajectories)
    assert np.all(trajectories[0].actions == 2.0)


def test_collect_on_gymnasium_backend():
    env = imitax.make("CartPole-v1", backend="gymnasium")
    trajectories = collect_episodes(env, random_policy(env.spec), jax.random.PRNGKey(0), 4)
    assert len(trajectories) == 4 and all(t.obs.shape[0] == len(t) + 1 for t in trajectories)


def test_flatten_marks_terminal_and_truncated_last_steps():
    env = imitax.make("CartPole-v1")
    trajectories = collect_episodes(env, random_policy(env.spec), jax.random.PRNGKey(1), 3)
    flat = flatten_trajectories(trajectories)
    assert len(flat) == sum(len(t) for t in trajectories)
    assert flat.terminated.sum() == sum(t.terminated for t in trajectories)
    ends = np.cumsum([len(t) for t in trajectories]) - 1
    assert np.all(flat.dones[ends])
    np.testing.assert_array_equal(flat.next_obs[ends[0]], trajectories[0].obs[-1])
