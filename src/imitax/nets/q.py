"""Action-value networks for off-policy learners: an ensemble of independent critics.

Box actions: Q(s, a) from the concatenated (normalised) observation and action, one value
per critic. Discrete actions: Q(s, .) for every action at once. The critics' parameters are
stacked on a leading [num_critics] axis and applied with one `vmap` (twin Q in SAC).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from imitax.envs.spec import EnvSpec
from imitax.nets.compiled_init import init_network
from imitax.nets.mlp import MLP


@dataclasses.dataclass(frozen=True)
class QEnsemble:
    spec: EnvSpec
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    num_critics: int = 2

    @property
    def net(self) -> MLP:
        return MLP(tuple(self.hidden_sizes), self.spec.action_space.n if self.spec.discrete else 1, self.activation)

    @property
    def input_dim(self) -> int:
        return self.spec.obs_dim + (0 if self.spec.discrete else self.spec.action_dim)

    def init(self, key: jax.Array) -> Any:
        """Flax params with a leading [num_critics] axis on every leaf."""
        keys = jax.random.split(key, self.num_critics)
        return jax.vmap(lambda k: init_network(self.net, k, ((1, self.input_dim),)))(keys)

    def values(self, params: Any, obs: jnp.ndarray, actions: jnp.ndarray) -> jnp.ndarray:
        """Box: obs f32[..., obs_dim] (normalised), actions f32[..., action_dim] -> f32[num_critics, ...]."""
        inputs = jnp.concatenate([obs, actions], axis=-1)
        return jax.vmap(lambda p: self.net.apply(p, inputs)[..., 0])(params)

    def all_values(self, params: Any, obs: jnp.ndarray) -> jnp.ndarray:
        """Discrete: obs f32[..., obs_dim] (normalised) -> Q of every action f32[num_critics, ..., n]."""
        return jax.vmap(lambda p: self.net.apply(p, obs))(params)
