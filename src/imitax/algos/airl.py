"""AIRL: adversarial inverse reinforcement learning (Fu, Luo & Levine, 2018), PPO generator.

The discriminator is D = exp(f) / (exp(f) + pi(a|s)), so its logit is
f(s, a, s') - log pi(a|s) with f = g(s[, a]) + gamma * h(s') - h(s) (see
`imitax.nets.airl_reward`). The generator is trained on f (`reward="shaped"`, the default), on the logit
log D - log(1 - D) = f - log pi (`"logit"`, the entropy-regularised objective of the
paper), or on -log(1 - D) = softplus(f - log pi) (`"positive"`). Measured here: with
`"logit"` or `"positive"` on Pendulum the -log pi term drives the Gaussian policy's
entropy up until it acts at random; `"shaped"` reaches the expert. Rewards that can be
negative make CartPole's agent end episodes early, so CartPole defaults to `"positive"`
(proper absorbing-state rewards would remove the need for that choice).
The disentangled reward g is the learned reward to keep: it is saved with the run and,
with a state-only g, transfers to changed dynamics.

Everything else (the compiled loop, discriminator steps, PPO update, seeds) is GAIL's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from imitax.algos.gail import GAIL, AdversarialResult, GAILState, train_adversarial
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.errors import ConfigError, require_positive
from imitax.nets.airl_reward import AIRLRewardNet
from imitax.rl.loop import ChunkCallback
from imitax.rl.ppo import PPOConfig

AIRL_REWARDS = ("logit", "positive", "shaped")


@dataclasses.dataclass(frozen=True)
class AIRLConfig:
    """AIRL hyperparameters; `AIRLConfig.for_env(id)` gives tuned defaults per task."""

    ppo: PPOConfig = PPOConfig()
    """the generator (its total_steps is the run's length)"""
    reward: str = "shaped"
    """generator reward: shaped (f) | logit (f - log pi) | positive (-log(1 - D) = softplus(f - log pi))"""
    state_only: bool = True
    """g depends on the state only (what makes the reward transfer)"""
    disc_hidden_sizes: tuple[int, ...] = (64, 64)
    disc_activation: str = "tanh"
    disc_learning_rate: float = 1e-4
    """slower than GAIL's 3e-4: at 3e-4, 2 of 5 Pendulum seeds collapsed; at 1e-4, 5 of 5 reach the expert"""
    disc_steps: int = 4
    """discriminator gradient steps per iteration"""
    disc_batch_size: int = 256
    """agent samples (and as many expert samples) per discriminator step"""
    disc_grad_penalty: float = 0.0  # read by GAIL's loss; AIRL keeps it at 0

    def validate(self) -> AIRLConfig:
        self.ppo.validate()
        if self.reward not in AIRL_REWARDS:
            raise ConfigError(f"unknown AIRL reward {self.reward!r}; expected one of {', '.join(AIRL_REWARDS)}")
        require_positive(self, "airl", "disc_learning_rate", "disc_steps", "disc_batch_size")
        if self.disc_grad_penalty != 0:
            raise ConfigError("airl.disc_grad_penalty is not supported; expected 0")
        return self

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> AIRLConfig:
        ppo_overrides = overrides.pop("ppo", {})
        ppo = PPOConfig.for_env(env_id, **AIRL_PPO.get(env_id, {}), **ppo_overrides)
        return dataclasses.replace(cls(ppo=ppo, **AIRL_TUNED.get(env_id, {})), **overrides)


AIRL_PPO: dict[str, dict[str, Any]] = {}
# CartPole ends when the pole falls: a reward that can be negative teaches the agent to
# end episodes early (the termination bias), so it takes the positive form there.
AIRL_TUNED: dict[str, dict[str, Any]] = {"CartPole-v1": {"reward": "positive"}}


@dataclasses.dataclass(frozen=True)
class AIRL(GAIL):
    config: AIRLConfig  # type: ignore[assignment]

    @property
    def discriminator(self) -> AIRLRewardNet:  # type: ignore[override]
        c = self.config
        return AIRLRewardNet(self.spec, tuple(c.disc_hidden_sizes), c.disc_activation, c.state_only, c.ppo.gamma)

    def log_policy(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """log pi(a|s) under the current policy, held fixed for the discriminator."""
        params = jax.lax.stop_gradient(state.ppo.policy_params)
        return self.ppo.policy.distribution(params, transitions.obs).log_prob(transitions.actions)

    def logits(self, net_params: Any, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        params = {"net": net_params, "obs_norm": state.disc_params["obs_norm"]}
        return self.discriminator.shaped_reward(params, transitions) - self.log_policy(state, transitions)

    def reward(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        if self.config.reward == "shaped":
            return self.discriminator.shaped_reward(state.disc_params, transitions)
        logits = self.logits(state.disc_params["net"], state, transitions)
        return jax.nn.softplus(logits) if self.config.reward == "positive" else logits

    def learned_reward(self, disc_params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """g(s[, a]), the disentangled reward to reuse: f32[...]."""
        return self.discriminator.reward(disc_params, transitions)


def train_airl(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: AIRLConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
) -> AdversarialResult:
    """Learn a reward and a policy from the expert transitions `expert` (`[num_transitions, ...]`)."""
    config.validate()
    return train_adversarial(AIRL(config, env.spec), env, expert, seed, num_seeds, on_chunk)
