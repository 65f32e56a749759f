"""Running observation statistics (parallel Welford), kept outside the optimised params."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class ObsNormalizer:
    """mean, var: f32[obs_dim]; count: f32[]. Identity when never updated."""

    mean: jnp.ndarray
    var: jnp.ndarray
    count: jnp.ndarray

    @classmethod
    def identity(cls, obs_dim: int) -> ObsNormalizer:
        # from NumPy: eager jnp.zeros and jnp.asarray compile a program per shape
        return cls(*jax.device_put((np.zeros(obs_dim, np.float32), np.ones(obs_dim, np.float32), np.float32(1e-4))))

    def update(self, obs: jnp.ndarray) -> ObsNormalizer:
        """Fold in a batch `obs: f32[..., obs_dim]` (one compiled program when called eagerly, as
        on the demonstrations before training, not one per operation)."""
        return _fold_in(self, obs)

    def __call__(self, obs: jnp.ndarray) -> jnp.ndarray:
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)


@jax.jit
def _fold_in(normalizer: ObsNormalizer, obs: jnp.ndarray) -> ObsNormalizer:
    batch = obs.reshape(-1, obs.shape[-1])
    batch_mean, batch_var, batch_count = batch.mean(0), batch.var(0), batch.shape[0]
    delta = batch_mean - normalizer.mean
    total = normalizer.count + batch_count
    mean = normalizer.mean + delta * batch_count / total
    m2 = normalizer.var * normalizer.count + batch_var * batch_count + delta**2 * normalizer.count * batch_count / total
    return ObsNormalizer(mean, m2 / total, total)
