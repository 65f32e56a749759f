"""One seed's trained policy as a plain function of observations (`TrainResult.policy(seed)`)."""

from __future__ import annotations

import dataclasses
import itertools
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from imitax.errors import ConfigError, SpaceError


@partial(jax.jit, static_argnums=(0, 4))
def _act(net: Any, params: Any, key: jax.Array, obs: jnp.ndarray, deterministic: bool) -> jnp.ndarray:
    return net.clip(net.act(params, key, obs, deterministic))


@dataclasses.dataclass(frozen=True, eq=False)
class SeedPolicy:
    """`act = result.policy(seed=0)`; `act(obs)` is the action to execute.

    obs: f32[obs_dim] (one observation) or f32[n, obs_dim] (a batch), NumPy or JAX.
    Returns i32[] / i32[n] (Discrete) or f32[action_dim] / f32[n, action_dim] (Box, clipped to
    the bounds): NumPy for NumPy input, JAX for JAX input, so it also runs inside `jax.jit`
    and `jax.vmap`. Deterministic (the modal action) by default; a stochastic policy
    (`result.policy(seed, deterministic=False)`) samples with `key`, or without one with a
    fresh key per call (outside `jax.jit`; inside, pass the key).
    """

    net: Any  # Policy | SquashedGaussianPolicy
    params: Any = dataclasses.field(repr=False)
    deterministic: bool = True
    seed: int = 0
    _calls: Any = dataclasses.field(default_factory=itertools.count, init=False, repr=False)

    @property
    def spec(self) -> Any:
        return self.net.spec

    def __call__(self, obs: Any, key: jax.Array | None = None) -> Any:
        host = not isinstance(obs, jax.Array)
        obs = _observations(obs, self.spec.obs_dim)
        if key is None:
            key = jax.random.PRNGKey(0) if self.deterministic else \
                jax.random.fold_in(jax.random.PRNGKey(self.seed), next(self._calls))
        actions = _act(self.net, self.params, key, obs, self.deterministic)
        return np.asarray(actions)[()] if host else actions


@dataclasses.dataclass(frozen=True, eq=False)
class TabularSeedPolicy:
    """MCE IRL's policy: optimal under the learned reward. `act(states, t=0)`: states i32[...]
    at step t of the episode -> actions i32[...] (the policy of a finite horizon depends on t).

    table: f32[H, S, A], the probability of each action (one-hot: a greedy policy).
    """

    table: Any = dataclasses.field(repr=False)

    def __call__(self, states: Any, t: int = 0) -> Any:
        host = not isinstance(states, jax.Array)
        horizon, num_states, _ = self.table.shape
        if not host:
            return jnp.argmax(jnp.asarray(self.table)[t, states], axis=-1).astype(jnp.int32)
        states = np.asarray(states)
        if states.dtype.kind not in "iu" or (states.size and not (0 <= states.min() and states.max() < num_states)):
            raise ConfigError(f"states must be integers in [0, {num_states}); got {states!r}")
        if not 0 <= t < horizon:
            raise ConfigError(f"t must be a step of the episode in [0, {horizon}); got {t}")
        return np.argmax(np.asarray(self.table)[t, states], axis=-1).astype(np.int32)[()]


def _observations(obs: Any, obs_dim: int) -> jnp.ndarray:
    """obs as f32[obs_dim] or f32[n, obs_dim], or SpaceError naming the shape it has."""
    if not isinstance(obs, jax.Array):
        try:
            obs = np.asarray(obs, np.float32)
        except (TypeError, ValueError):
            raise SpaceError(f"observation {obs!r} is not numeric; expected an array f32[{obs_dim}] or "
                             f"f32[n, {obs_dim}]") from None
    if obs.ndim not in (1, 2) or obs.shape[-1] != obs_dim:
        raise SpaceError(f"observation of shape {tuple(obs.shape)}; expected one observation [{obs_dim}] or a batch "
                         f"[n, {obs_dim}]")
    return jnp.asarray(obs, jnp.float32)
