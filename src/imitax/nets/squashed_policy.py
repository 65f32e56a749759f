"""The tanh-squashed Gaussian policy of SAC, for bounded Box actions.

The network outputs a mean and a state-dependent log-std per action dimension; a sample
u ~ N(mean, std) is squashed by tanh and scaled to the action bounds, so every action
lies inside them and the log-density accounts for the change of variables
(`SquashedGaussian` computes log|d tanh/du| stably). The deterministic action is the squashed
mean.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from imitax.envs.spec import Box, EnvSpec
from imitax.errors import ConfigError
from imitax.nets.compiled_init import init_network
from imitax.nets.distributions import SquashedGaussian
from imitax.nets.mlp import MLP, read_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.schema import Fields

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class _MeanAndLogStd(nn.Module):
    action_dim: int
    hidden_sizes: Sequence[int]
    activation: str

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        out = MLP(self.hidden_sizes, 2 * self.action_dim, self.activation, out_scale=0.01)(obs)
        mean, raw_log_std = jnp.split(out, 2, axis=-1)
        # a smooth squash into [LOG_STD_MIN, LOG_STD_MAX] (CleanRL, SpinningUp): no dead gradient at a clip
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw_log_std) + 1.0)
        return mean, log_std


def check_bounded(spec: EnvSpec, method: str) -> Box:
    """The spec's Box action space; ConfigError unless its bounds are finite."""
    space = spec.action_space
    if not isinstance(space, Box):
        raise ConfigError(f"{method} with a squashed Gaussian policy needs Box actions; {spec.env_id} has Discrete actions")
    if not (np.isfinite(space.low_array).all() and np.isfinite(space.high_array).all()):
        raise ConfigError(f"{method} squashes actions into the action space's bounds; {spec.env_id} has unbounded "
                          f"actions (low {list(space.low)}, high {list(space.high)}); expected finite bounds")
    return space


@dataclasses.dataclass(frozen=True)
class SquashedGaussianPolicy:
    """params: {"net": flax params, "obs_norm": ObsNormalizer}, as `Policy`'s, so policy
    checkpoints and evaluation treat both alike."""

    spec: EnvSpec
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"

    @property
    def net(self) -> _MeanAndLogStd:
        return _MeanAndLogStd(self.spec.action_dim, tuple(self.hidden_sizes), self.activation)

    def init(self, key: jax.Array) -> dict[str, Any]:
        check_bounded(self.spec, "this policy")
        return {"net": init_network(self.net, key, ((1, self.spec.obs_dim),)),
                "obs_norm": ObsNormalizer.identity(self.spec.obs_dim)}

    def distribution(self, params: dict[str, Any], obs: jnp.ndarray) -> SquashedGaussian:
        """obs: f32[..., obs_dim] -> a distribution over in-bounds actions f32[..., action_dim]."""
        space = check_bounded(self.spec, "this policy")
        mean, log_std = self.net.apply(params["net"], params["obs_norm"](obs))
        return SquashedGaussian(mean, jnp.exp(log_std), jnp.asarray(space.low_array), jnp.asarray(space.high_array))

    def sample_and_log_prob(self, params: dict[str, Any], key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Reparameterised actions f32[..., action_dim] and their log-densities f32[...]."""
        return self.distribution(params, obs).sample_and_log_prob(key)

    def act(self, params: dict[str, Any], key: jax.Array, obs: jnp.ndarray, deterministic: bool = False) -> jnp.ndarray:
        """Sampled actions, or the squashed mean when `deterministic`: f32[..., action_dim]."""
        dist = self.distribution(params, obs)
        return dist.mode() if deterministic else dist.sample(key)

    def clip(self, actions: jnp.ndarray) -> jnp.ndarray:
        """Actions are inside the bounds already."""
        return actions

    def config(self) -> dict[str, Any]:
        return {"kind": "squashed_gaussian", "hidden_sizes": list(self.hidden_sizes), "activation": self.activation}

    @classmethod
    def from_config(cls, spec: EnvSpec, config: Fields) -> SquashedGaussianPolicy:
        """The policy `config()` described, read through its schema (a saved meta.json's "policy")."""
        return cls(spec, *read_network(config))
