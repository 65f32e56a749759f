"""Random but valid episodes for data-layer tests (no expert needed)."""

from __future__ import annotations

import numpy as np

from imitax.data.types import Trajectory
from imitax.envs.spec import Discrete, EnvSpec


def random_episode(rng: np.random.Generator, spec: EnvSpec, length: int, terminated: bool) -> Trajectory:
    """obs f32[length + 1, obs_dim], actions inside the space, rewards f32[length]."""
    obs = rng.normal(size=(length + 1, spec.obs_dim)).astype(np.float32)
    if isinstance(spec.action_space, Discrete):
        actions = rng.integers(0, spec.action_space.n, size=length).astype(np.int32)
    else:
        space = spec.action_space
        actions = rng.uniform(space.low_array, space.high_array, size=(length, space.shape[0])).astype(np.float32)
    rewards = rng.normal(size=length).astype(np.float32)
    return Trajectory(obs, actions, rewards, terminated)
