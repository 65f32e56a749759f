"""Reward scaling by the running spread of discounted returns (as in Engstrom et al. 2020).

PPO's tuned settings (learning rate, value clipping at `clip_eps`, gradient clipping)
assume rewards of the environment's scale. A learned reward has an arbitrary one: AIRL's
absorbing-state fold alone can be hundreds. Dividing rewards by the running standard
deviation of each environment's discounted return puts any reward on a common scale
without shifting it (a shift would change what ending an episode is worth).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from imitax.nets.normalizer import ObsNormalizer


@struct.dataclass
class RewardScaler:
    """returns: f32[num_envs], each environment's running discounted return;
    stats: running mean and variance of those returns (a one-dimensional normaliser)."""

    returns: jnp.ndarray
    stats: ObsNormalizer

    @classmethod
    def init(cls, num_envs: int) -> RewardScaler:
        return cls(jax.device_put(np.zeros(num_envs, np.float32)), ObsNormalizer.identity(1))  # eager jnp.zeros: a program

    def update(self, rewards: jnp.ndarray, dones: jnp.ndarray, gamma: float) -> RewardScaler:
        """Fold in a rollout's rewards and episode ends, both `[T, num_envs]`."""

        def step(running: jnp.ndarray, inputs: tuple[jnp.ndarray, jnp.ndarray]) -> tuple[jnp.ndarray, jnp.ndarray]:
            reward, done = inputs
            running = gamma * running + reward
            return running * (1.0 - done), running

        returns, seen = jax.lax.scan(step, self.returns, (rewards, dones.astype(jnp.float32)))
        return RewardScaler(returns, self.stats.update(seen[..., None]))

    def __call__(self, rewards: jnp.ndarray) -> jnp.ndarray:
        """rewards f32[...] divided by the returns' running standard deviation."""
        return rewards / jnp.sqrt(self.stats.var[0] + 1e-8)
