"""The reward a soft Q-function implies (IQ-Learn's recovered reward), as a saved reward.

Inverse soft Bellman: r(s, a, s') = Q(s, a) - gamma * (1 - terminated) * V(s'), with
V(s') = E_a'~pi[min_i Q_i(s', a') - alpha log pi(a'|s')] under the run's actor. For
Discrete actions the expectation is exact; for Box actions it is the mean over
`VALUE_SAMPLES` actions drawn with a fixed key, so the reward is a deterministic function
of the transition, as a reward for `imitax train rl` must be.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from imitax.data.types import Transitions
from imitax.envs.spec import EnvSpec
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.sac import SAC, SACConfig, q_values, soft_value

VALUE_SAMPLES = 16


@dataclasses.dataclass(frozen=True)
class ImplicitReward:
    """params: {"actor", "critics", "obs_norm", "log_alpha": f32[]} (a SAC state's networks)."""

    spec: EnvSpec
    hidden_sizes: tuple[int, ...]
    activation: str
    gamma: float
    num_critics: int

    @property
    def sac(self) -> SAC:
        return SAC(SACConfig(hidden_sizes=tuple(self.hidden_sizes), activation=self.activation, gamma=self.gamma,
                             num_critics=self.num_critics), self.spec)

    def init(self, key: jax.Array, obs_norm: ObsNormalizer) -> dict[str, Any]:
        """Parameters shaped like a saved reward's (the template a checkpoint loads into)."""
        actor_key, critic_key = jax.random.split(key)
        return {"actor": self.sac.policy.init(actor_key)["net"], "critics": self.sac.critics.init(critic_key),
                "obs_norm": obs_norm, "log_alpha": jnp.zeros((), jnp.float32)}

    def reward(self, params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """f32[...]: the implicit reward of transitions with any leading shape."""
        flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[transitions.rewards.ndim:]), transitions)
        sac = self.sac

        def next_value(key: jax.Array) -> jnp.ndarray:
            return soft_value(sac, params["critics"], params["actor"], params["obs_norm"], params["log_alpha"], key,
                              flat.next_obs)

        samples = 1 if self.spec.discrete else VALUE_SAMPLES
        value = jax.vmap(next_value)(jax.random.split(jax.random.PRNGKey(0), samples)).mean(0)
        q = q_values(sac, params["critics"], params["obs_norm"], flat).min(0)
        reward = q - self.gamma * (1.0 - flat.terminated.astype(jnp.float32)) * value
        return reward.reshape(transitions.rewards.shape)

    def config(self) -> dict[str, Any]:
        return {"hidden_sizes": list(self.hidden_sizes), "activation": self.activation, "gamma": self.gamma,
                "num_critics": self.num_critics}
