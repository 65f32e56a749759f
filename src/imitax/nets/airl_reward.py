"""AIRL's discriminator body: a reward g(s[, a]) and a shaping potential h(s).

f(s, a, s') = g(s[, a]) + gamma * (1 - terminated) * h(s') - h(s).

The disentangled reward g is what transfers to new dynamics; h absorbs the shaping.

Termination (DAC-style absorbing state, Kostrikov et al. 2019): a terminal transition
leads to an absorbing state that loops on itself forever. g's input carries an
absorbing flag (0 for real states); the absorbing state is the input with the flag set
and zeros elsewhere, its reward is g_abs = g(absorbing input), its potential is fixed
at 0. The discriminator sees one absorbing sample per terminal transition, so g_abs
learns whether ending an episode is expert-like. (A lone learned scalar moved too
slowly under Adam at the discriminator's learning rate; through the network it does not.)
Without it, any reward that is negative on the agent's states teaches a fresh agent to
end episodes early (CartPole's termination bias).

RL code bootstraps nothing after a terminal state, so the absorbing state's discounted
value, gamma / (1 - gamma) * g_abs, is folded into the terminal transition's reward
(`absorbing_value`). Returns are exactly those of the infinite absorbing loop.
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
from imitax.nets import absorbing as absorbing_state
from imitax.nets.compiled_init import init_network
from imitax.nets.discriminator import observed
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
    absorbing: bool = True
    ignore_obs: tuple[int, ...] = ()  # observation features g and h do not see (set to 0 after normalisation)

    @property
    def net(self) -> _RewardAndPotential:
        return _RewardAndPotential(tuple(self.hidden_sizes), self.activation)

    @property
    def reward_input_dim(self) -> int:
        return self.spec.obs_dim + (0 if self.state_only else self.spec.action_dim) + int(self.absorbing)

    def init(self, key: jax.Array, obs_norm: ObsNormalizer) -> dict[str, Any]:
        net = init_network(self.net, key, ((1, self.reward_input_dim), (1, self.spec.obs_dim)))
        return {"net": net, "obs_norm": obs_norm}

    def _observed(self, obs_norm: ObsNormalizer, obs: jnp.ndarray) -> jnp.ndarray:
        return observed(obs_norm, obs, self.ignore_obs)

    def reward_inputs(self, obs_norm: ObsNormalizer, transitions: Transitions) -> jnp.ndarray:
        parts = [self._observed(obs_norm, transitions.obs)]
        if not self.state_only:
            space = self.spec.action_space
            if isinstance(space, Box):
                parts.append(executed_actions(space, transitions.actions))
            else:
                parts.append(jax.nn.one_hot(transitions.actions, space.n))
        if self.absorbing:
            parts.append(absorbing_state.real_flag(transitions.obs.shape[:-1]))
        return jnp.concatenate(parts, axis=-1)

    def absorbing_reward(self, params: dict[str, Any]) -> jnp.ndarray:
        """g_abs, the learned per-step reward of the absorbing state: f32[] (0 without absorbing)."""
        if not self.absorbing:
            return jnp.zeros(())
        return self.net.apply(params["net"], absorbing_state.absorbing_input(self.reward_input_dim), method="g")

    def absorbing_value(self, per_step_reward: jnp.ndarray, terminated: jnp.ndarray) -> jnp.ndarray:
        """Discounted value of the absorbing state reached after a terminal transition
        (`terminated`: f32[...]), for an absorbing per-step reward f32[]: f32[...]."""
        if not self.absorbing:
            return jnp.zeros_like(terminated, dtype=jnp.float32)
        return absorbing_state.absorbing_value(per_step_reward, terminated, self.gamma)

    def step_reward(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """g(s[, a]) of each transition alone: f32[...]."""
        return self.net.apply(params["net"], self.reward_inputs(params["obs_norm"], transitions), method="g")

    def reward(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """The disentangled reward to train on: g(s[, a]) plus, after a terminal
        transition, the absorbing state's value: f32[...]."""
        return self.step_reward(params, transitions) + \
            self.absorbing_value(self.absorbing_reward(params), transitions.terminated)

    def shaped_reward(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """f(s, a, s') of each transition alone (the discriminator's term): f32[...]."""
        obs_norm = params["obs_norm"]
        g, h = self.net.apply(params["net"], self.reward_inputs(obs_norm, transitions), self._observed(obs_norm, transitions.obs))
        h_next = self.net.apply(params["net"], self._observed(obs_norm, transitions.next_obs), method="h")
        return g + self.gamma * (1.0 - transitions.terminated) * h_next - h

    def config(self) -> dict[str, Any]:
        return {"hidden_sizes": list(self.hidden_sizes), "activation": self.activation,
                "state_only": self.state_only, "gamma": self.gamma, "absorbing": self.absorbing,
                "ignore_obs": list(self.ignore_obs)}
