"""Policies: a network that maps observations to an action distribution.

Discrete spaces get a `Categorical`; Box spaces a diagonal Gaussian with a
state-independent learned log-std. Actions are sampled unbounded; environments clip
them to the bounds (the executed, clipped action is what demonstrations record).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from imitax.envs.spec import Discrete, EnvSpec, executed_actions
from imitax.nets.compiled_init import init_network
from imitax.nets.distributions import Categorical, DiagGaussian
from imitax.nets.mlp import MLP, read_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.schema import Fields


class _PolicyNet(nn.Module):
    action_dim: int
    discrete: bool
    hidden_sizes: Sequence[int]
    activation: str
    init_log_std: float

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> Categorical | DiagGaussian:
        out = MLP(self.hidden_sizes, self.action_dim, self.activation, out_scale=0.01)(obs)
        if self.discrete:
            return Categorical(out)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        return DiagGaussian(out, jnp.exp(jnp.broadcast_to(log_std, out.shape)))


@dataclasses.dataclass(frozen=True)
class Policy:
    """A stateless policy description; parameters live in a separate pytree.

    `params` is `{"net": flax params, "obs_norm": ObsNormalizer}` so a checkpoint of a
    policy carries its observation statistics.
    """

    spec: EnvSpec
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0

    @property
    def net(self) -> _PolicyNet:
        return _PolicyNet(self.spec.action_dim, self.spec.discrete, tuple(self.hidden_sizes),
                          self.activation, self.init_log_std)

    def init(self, key: jax.Array) -> dict[str, Any]:
        net_params = init_network(self.net, key, ((1, self.spec.obs_dim),))
        return {"net": net_params, "obs_norm": ObsNormalizer.identity(self.spec.obs_dim)}

    def distribution(self, params: dict[str, Any], obs: jnp.ndarray) -> Categorical | DiagGaussian:
        """obs: f32[..., obs_dim] -> distribution over actions with batch shape `[...]`."""
        return self.net.apply(params["net"], params["obs_norm"](obs))

    def act(self, params: dict[str, Any], key: jax.Array, obs: jnp.ndarray, deterministic: bool = False) -> jnp.ndarray:
        """Sampled (or modal) actions: i32[...] or f32[..., action_dim], unclipped."""
        dist = self.distribution(params, obs)
        action = dist.mode() if deterministic else dist.sample(key)
        return action.astype(jnp.int32) if isinstance(self.spec.action_space, Discrete) else action

    def clip(self, actions: jnp.ndarray) -> jnp.ndarray:
        """The action an environment executes: Box actions clipped to the bounds."""
        return executed_actions(self.spec.action_space, actions)

    def config(self) -> dict[str, Any]:
        return {"hidden_sizes": list(self.hidden_sizes), "activation": self.activation, "init_log_std": self.init_log_std}

    @classmethod
    def from_config(cls, spec: EnvSpec, config: Fields) -> Policy:
        """The policy `config()` described, read through its schema (a saved meta.json's "policy")."""
        return cls(spec, *read_network(config), config.number("init_log_std"))
