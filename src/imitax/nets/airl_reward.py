"""AIRL's discriminator body: a reward g(s[, a]) and a shaping potential h(s).

f(s, a, s') = g(s[, a]) + gamma * (1 - terminated) * h(s') - h(s). The disentangled
reward g is what transfers to new dynamics; h absorbs the shaping. After a terminal
state the potential is zero (an absorbing state of value 0).
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


class _RewardAndPotential(nn.Module):
    hidden_sizes: Sequence[int]
    activation: str

    def setup(self) -> None:
        self.reward = MLP(self.hidden_sizes, 1, self.activation)
        self.potential = MLP(self.hidden_sizes, 1, self.activation)

    def __call__(self, reward_inputs: jnp.ndarray, obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        return self.reward(reward_inputs)[..., 0], self.potential(obs)[..., 0]

    def g(self, reward_inputs: jnp.ndarray) -> jnp.ndarray:
        return self.reward(reward_inputs)[..., 0]

    def h(self, obs: jnp.ndarray) -> jnp.ndarray:
        return self.potential(obs)[..., 0]


@dataclasses.dataclass(frozen=True)
class AIRLRewardNet:
    """params: {"net": flax params of g and h, "obs_norm": ObsNormalizer (from the expert data)}."""

    spec: EnvSpec
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    state_only: bool = True
    gamma: float = 0.99

    @property
    def net(self) -> _RewardAndPotential:
        return _RewardAndPotential(tuple(self.hidden_sizes), self.activation)

    @property
    def reward_input_dim(self) -> int:
        return self.spec.obs_dim + (0 if self.state_only else self.spec.action_dim)

    def init(self, key: jax.Array, obs_norm: ObsNormalizer) -> dict[str, Any]:
        net = self.net.init(key, jnp.zeros((1, self.reward_input_dim)), jnp.zeros((1, self.spec.obs_dim)))
        return {"net": net, "obs_norm": obs_norm}

    def _reward_inputs(self, obs_norm: ObsNormalizer, transitions: Transitions) -> jnp.ndarray:
        obs = obs_norm(transitions.obs)
        if self.state_only:
            return obs
        space = self.spec.action_space
        if isinstance(space, Box):
            actions = executed_actions(space, transitions.actions)
        else:
            actions = jax.nn.one_hot(transitions.actions, space.n)
        return jnp.concatenate([obs, actions], axis=-1)

    def reward(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """g(s[, a]): f32[...], the disentangled reward."""
        return self.net.apply(params["net"], self._reward_inputs(params["obs_norm"], transitions), method="g")

    def shaped_reward(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """f(s, a, s'): f32[...]."""
        obs_norm = params["obs_norm"]
        g, h = self.net.apply(params["net"], self._reward_inputs(obs_norm, transitions), obs_norm(transitions.obs))
        h_next = self.net.apply(params["net"], obs_norm(transitions.next_obs), method="h")
        return g + self.gamma * (1.0 - transitions.terminated) * h_next - h

    def config(self) -> dict[str, Any]:
        return {"hidden_sizes": list(self.hidden_sizes), "activation": self.activation,
                "state_only": self.state_only, "gamma": self.gamma}
