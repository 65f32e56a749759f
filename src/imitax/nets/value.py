"""State-value network `V(s)`."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from imitax.nets.mlp import MLP


class ValueNet(nn.Module):
    """obs: f32[..., obs_dim] (already normalised) -> f32[...]."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> jnp.ndarray:
        return MLP(self.hidden_sizes, 1, self.activation, out_scale=1.0)(obs)[..., 0]
