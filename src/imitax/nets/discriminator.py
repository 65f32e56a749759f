"""Discriminator / reward networks over (s, a) or (s, a, s').

Inputs are the observation normalised with the expert's statistics, the action
(one-hot for Discrete, clipped to the bounds for Box), optionally the next observation,
and (`absorbing`, see `imitax.nets.absorbing`) a flag column that is set only for the
absorbing state that follows a terminal transition. The output is one logit per
transition: high means "expert".
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
from imitax.errors import ConfigError
from imitax.nets.absorbing import absorbing_input, absorbing_value, real_flag
from imitax.nets.compiled_init import init_network
from imitax.nets.mlp import MLP
from imitax.nets.normalizer import ObsNormalizer


REWARD_KINDS = ("logit", "positive", "negative")


def observed(obs_norm: ObsNormalizer, obs: jnp.ndarray, ignore_obs: tuple[int, ...]) -> jnp.ndarray:
    """f32[..., obs_dim]: `obs` normalised, with the features `ignore_obs` set to 0 (unseen)."""
    normalised = obs_norm(obs)
    return normalised.at[..., list(ignore_obs)].set(0.0) if ignore_obs else normalised


def reward_from_logits(logits: jnp.ndarray, kind: str) -> jnp.ndarray:
    """Per-step reward from discriminator logits, D = sigmoid(logit) the probability of
    "expert": logit = log D - log(1 - D); positive = -log(1 - D) >= 0; negative = log D <= 0."""
    if kind == "positive":
        return jax.nn.softplus(logits)
    if kind == "negative":
        return -jax.nn.softplus(-logits)
    if kind == "logit":
        return logits
    raise ConfigError(f"unknown GAIL reward {kind!r}; expected one of {', '.join(REWARD_KINDS)}")


def check_ignore_obs(indices: tuple[int, ...], obs_dim: int | None, name: str) -> None:
    """ConfigError unless `indices` are distinct feature indices >= 0 (and < `obs_dim` when given)."""
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in indices) or len(set(indices)) < len(indices):
        raise ConfigError(f"{name} is {list(indices)}; expected distinct observation feature indices >= 0")
    if obs_dim is not None and any(i >= obs_dim for i in indices):
        raise ConfigError(f"{name} is {list(indices)}; the observation has {obs_dim} features, expected indices "
                          f"from 0 to {obs_dim - 1}")


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
    absorbing: bool = False
    """inputs carry an absorbing flag; `absorbing_logit` scores the absorbing state"""
    gamma: float = 0.99
    """discount of the absorbing loop (the generator's)"""
    ignore_obs: tuple[int, ...] = ()
    """observation features the network does not see (set to their expert mean)"""

    @property
    def net(self) -> _LogitNet:
        return _LogitNet(tuple(self.hidden_sizes), self.activation)

    @property
    def input_dim(self) -> int:
        return self.spec.obs_dim * (2 if self.use_next_obs else 1) + self.spec.action_dim + int(self.absorbing)

    def init(self, key: jax.Array, obs_norm: ObsNormalizer) -> dict[str, Any]:
        return {"net": init_network(self.net, key, ((1, self.input_dim),)), "obs_norm": obs_norm}

    def features(self, obs_norm: ObsNormalizer, transitions: Transitions) -> jnp.ndarray:
        """f32[..., input_dim] from transitions with leading shape `[...]`."""
        space = self.spec.action_space
        if isinstance(space, Box):
            actions = executed_actions(space, transitions.actions)
            actions = actions / jnp.maximum(jnp.asarray(space.high) - jnp.asarray(space.low), 1e-6) * 2.0
        else:
            actions = jax.nn.one_hot(transitions.actions, space.n)
        parts = [self._observed(obs_norm, transitions.obs), actions]
        if self.use_next_obs:
            parts.append(self._observed(obs_norm, transitions.next_obs))
        if self.absorbing:
            parts.append(real_flag(transitions.obs.shape[:-1]))
        return jnp.concatenate(parts, axis=-1)

    def _observed(self, obs_norm: ObsNormalizer, obs: jnp.ndarray) -> jnp.ndarray:
        return observed(obs_norm, obs, self.ignore_obs)

    def logits(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """f32[...]: log D - log(1 - D), D the probability that a transition is the expert's."""
        return self.net.apply(params["net"], self.features(params["obs_norm"], transitions))

    def absorbing_logit(self, params: dict[str, Any]) -> jnp.ndarray:
        """f32[]: the absorbing state's logit (0 without `absorbing`: it then has no input)."""
        if not self.absorbing:
            return jnp.zeros(())
        return self.net.apply(params["net"], absorbing_input(self.input_dim))

    def reward(self, params: dict[str, Any], transitions: Transitions, kind: str) -> jnp.ndarray:
        """The reward of `kind` (see `reward_from_logits`) of each transition, plus after a
        terminal transition the absorbing state's discounted value: f32[...]."""
        step = reward_from_logits(self.logits(params, transitions), kind)
        if not self.absorbing:
            return step
        absorbing = reward_from_logits(self.absorbing_logit(params), kind)
        return step + absorbing_value(absorbing, transitions.terminated, self.gamma)

    def config(self) -> dict[str, Any]:
        return {"hidden_sizes": list(self.hidden_sizes), "activation": self.activation, "use_next_obs": self.use_next_obs,
                "absorbing": self.absorbing, "gamma": self.gamma, "ignore_obs": list(self.ignore_obs)}
