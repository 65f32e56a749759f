"""Demonstration containers, in the vocabulary of the `imitation` library.

`Trajectory` is one episode as NumPy arrays on the host (episodes have different
lengths). `Transitions` is a flat pytree of equal-length arrays that jitted code
consumes; `flatten_trajectories` turns episodes into transitions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from flax import struct

from imitax.errors import DatasetError


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One episode.

    Attributes:
        obs: f32[length + 1, obs_dim], the last row is the observation after the final step.
        actions: i32[length] (Discrete) or f32[length, action_dim] (Box), as executed.
        rewards: f32[length], the environment's rewards.
        terminated: True when the episode ended in a terminal state (no bootstrap);
            False when it was cut by a time limit or by the end of collection.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards))


@struct.dataclass
class Transitions:
    """A batch of transitions; every field has the same leading shape `[...]`.

    Attributes:
        obs: f32[..., obs_dim]
        actions: i32[...] or f32[..., action_dim]
        rewards: f32[...]
        next_obs: f32[..., obs_dim], the true next observation (not the reset one).
        terminated: bool[...], the next state is terminal: do not bootstrap from it.
        truncated: bool[...], the episode was cut by the time limit after this step.
    """

    obs: jnp.ndarray
    actions: jnp.ndarray
    rewards: jnp.ndarray
    next_obs: jnp.ndarray
    terminated: jnp.ndarray
    truncated: jnp.ndarray

    @property
    def dones(self) -> jnp.ndarray:
        return jnp.logical_or(self.terminated, self.truncated)

    def __len__(self) -> int:
        return int(self.rewards.shape[0])


def flatten_trajectories(trajectories: Sequence[Trajectory]) -> Transitions:
    """Concatenate episodes into one `Transitions` of NumPy arrays, `[total_steps]`.

    Raises:
        DatasetError: no episodes.
    """
    if not trajectories:
        raise DatasetError("no trajectories to flatten; expected at least one episode")
    obs = np.concatenate([t.obs[:-1] for t in trajectories]).astype(np.float32)
    next_obs = np.concatenate([t.obs[1:] for t in trajectories]).astype(np.float32)
    actions = np.concatenate([t.actions for t in trajectories])
    rewards = np.concatenate([t.rewards for t in trajectories]).astype(np.float32)
    terminated = np.concatenate(
        [np.arange(len(t)) == len(t) - 1 if t.terminated else np.zeros(len(t), bool) for t in trajectories]
    )
    truncated = np.concatenate(
        [np.arange(len(t)) == len(t) - 1 if not t.terminated else np.zeros(len(t), bool) for t in trajectories]
    )
    return Transitions(obs, actions, rewards, next_obs, terminated, truncated)
