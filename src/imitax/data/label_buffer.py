"""A preallocated dataset of (state, action label) pairs that grows without changing shape.

Interactive learners (DAgger) add labelled states every round. Reallocating would give
every round a new array shape and so a new compiled program; instead the buffer holds
`capacity` rows from the start and `count` says how many are filled (rows `[0, count)`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from imitax.envs.spec import EnvSpec
from imitax.nets.normalizer import ObsNormalizer


@struct.dataclass
class LabelBuffer:
    """obs: f32[capacity, obs_dim]; actions: i32[capacity] or f32[capacity, action_dim];
    count: i32[], the filled rows are `[0, count)`."""

    obs: jnp.ndarray
    actions: jnp.ndarray
    count: jnp.ndarray

    @classmethod
    def allocate(cls, spec: EnvSpec, capacity: int) -> LabelBuffer:
        space = spec.action_space
        return cls(jnp.zeros((capacity, spec.obs_dim), jnp.float32),
                   jnp.zeros((capacity, *space.shape), space.dtype), jnp.zeros((), jnp.int32))

    @property
    def capacity(self) -> int:
        return self.obs.shape[0]

    @property
    def valid(self) -> jnp.ndarray:
        """bool[capacity], True on filled rows."""
        return jnp.arange(self.capacity) < self.count

    def add(self, obs: jnp.ndarray, actions: jnp.ndarray, valid: jnp.ndarray) -> LabelBuffer:
        """Append the rows of `obs: f32[..., obs_dim]`, `actions: [..., *action_shape]` where
        `valid: bool[...]` holds, keeping their order. Rows beyond the capacity are dropped
        (callers size the buffer so that none are)."""
        flat_valid = valid.reshape(-1)
        flat_obs = obs.reshape(flat_valid.shape[0], -1)
        flat_actions = actions.reshape(flat_valid.shape[0], *self.actions.shape[1:])
        positions = self.count + jnp.cumsum(flat_valid) - 1
        positions = jnp.where(flat_valid, positions, self.capacity)  # out of range: dropped
        return LabelBuffer(
            self.obs.at[positions].set(flat_obs.astype(self.obs.dtype), mode="drop"),
            self.actions.at[positions].set(flat_actions.astype(self.actions.dtype), mode="drop"),
            jnp.minimum(self.count + flat_valid.sum(dtype=jnp.int32), self.capacity),
        )

    def obs_normalizer(self) -> ObsNormalizer:
        """Mean and variance of the filled rows' observations (identity when empty)."""
        weights = self.valid.astype(jnp.float32)[:, None]
        total = jnp.maximum(weights.sum(), 1.0)
        mean = (self.obs * weights).sum(0) / total
        var = (((self.obs - mean) ** 2) * weights).sum(0) / total
        empty = self.count == 0
        identity = ObsNormalizer.identity(self.obs.shape[1])
        return jax.tree.map(lambda a, b: jnp.where(empty, a, b), identity,
                            ObsNormalizer(mean, var, self.count.astype(jnp.float32)))
