"""Running observation statistics (parallel Welford), kept outside the optimised params."""

from __future__ import annotations

import jax.numpy as jnp
from flax import struct


@struct.dataclass
class ObsNormalizer:
    """mean, var: f32[obs_dim]; count: f32[]. Identity when never updated."""

    mean: jnp.ndarray
    var: jnp.ndarray
    count: jnp.ndarray

    @classmethod
    def identity(cls, obs_dim: int) -> ObsNormalizer:
        return cls(jnp.zeros(obs_dim), jnp.ones(obs_dim), jnp.asarray(1e-4))

    def update(self, obs: jnp.ndarray) -> ObsNormalizer:
        """Fold in a batch `obs: f32[..., obs_dim]`."""
        batch = obs.reshape(-1, obs.shape[-1])
        batch_mean, batch_var, batch_count = batch.mean(0), batch.var(0), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        return ObsNormalizer(mean, m2 / total, total)

    def __call__(self, obs: jnp.ndarray) -> jnp.ndarray:
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)
