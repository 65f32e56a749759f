"""Discriminator / reward networks over (s, a) or (s, a, s').

Inputs are the observation normalised with the expert's statistics, the action
(one-hot for Discrete, clipped to the bounds for Box) and optionally the next
observation. The output is one logit per transition: high means "expert".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from imitax.data.types import Transitions
from imitax.envs.spec import Box, EnvSpec, executed_actions
from imitax.nets.mlp import MLP
from imitax.nets.normalizer import ObsNormalizer


class _LogitNet(nn.Module):
    hidden_sizes: Sequence[int]
    activation: str

    @nn.compact
    def __call__(self, features: jnp.ndarray) -> jnp.ndarray:
        return MLP(self.hidden_sizes, 1, self.activation, out_scale=1.0)(features)[..., 0]


@dataclasses.dataclass(frozen=True)
class Discriminator:
    """params: {"net": flax params, "obs_norm": ObsNormalizer (fixed, from the expert data)}."""

    spec: EnvSpec
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    use_next_obs: bool = False

    @property
    def net(self) -> _LogitNet:
        return _LogitNet(tuple(self.hidden_sizes), self.activation)

    @property
    def input_dim(self) -> int:
        return self.spec.obs_dim * (2 if self.use_next_obs else 1) + self.spec.action_dim

    def init(self, key: jax.Array, obs_norm: ObsNormalizer) -> dict[str, Any]:
        return {"net": self.net.init(key, jnp.zeros((1, self.input_dim))), "obs_norm": obs_norm}

    def features(self, obs_norm: ObsNormalizer, transitions: Transitions) -> jnp.ndarray:
        """f32[..., input_dim] from transitions with leading shape `[...]`."""
        space = self.spec.action_space
        if isinstance(space, Box):
            actions = executed_actions(space, transitions.actions)
            actions = actions / jnp.maximum(jnp.asarray(space.high) - jnp.asarray(space.low), 1e-6) * 2.0
        else:
            actions = jax.nn.one_hot(transitions.actions, space.n)
        parts = [obs_norm(transitions.obs), actions]
        if self.use_next_obs:
            parts.append(obs_norm(transitions.next_obs))
        return jnp.concatenate(parts, axis=-1)

    def logits(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """f32[...]: log D - log(1 - D), D the probability that a transition is the expert's."""
        return self.net.apply(params["net"], self.features(params["obs_norm"], transitions))

    def config(self) -> dict[str, Any]:
        return {"hidden_sizes": list(self.hidden_sizes), "activation": self.activation, "use_next_obs": self.use_next_obs}
