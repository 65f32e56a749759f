"""AIRL: adversarial inverse reinforcement learning (Fu, Luo & Levine, 2018), PPO generator.

The discriminator is D = exp(f) / (exp(f) + pi(a|s)), so its logit is
f(s, a, s') - log pi(a|s) with f = g(s[, a]) + gamma * h(s') - h(s) (see
`imitax.nets.airl_reward`). The generator is trained on f (`reward="shaped"`, the default), on the logit
log D - log(1 - D) = f - log pi (`"logit"`, the entropy-regularised objective of the
paper), or on -log(1 - D) = softplus(f - log pi) (`"positive"`). Measured here: with
`"logit"` or `"positive"` on Pendulum the -log pi term drives the Gaussian policy's
entropy up until it acts at random; `"shaped"` reaches the expert.

Episodes that end (CartPole's fall, MountainCar's goal) lead to a learned absorbing
state (`absorbing=True`, DAC-style): the discriminator learns whether ending an episode
is expert-like, and the rewards fold the absorbing state's value into the terminal
transition. Without it, a reward that is negative on the agent's states teaches the
agent (and any fresh agent trained on the saved reward) to end episodes early.
The disentangled reward g (with g_abs) is the learned reward to keep: it is saved with
the run and, with a state-only g, transfers to changed dynamics.

Two defaults exist for that saved reward rather than for the generator. A fresh agent
trained on g starts where AIRL's generator started, far from the expert, and a
discriminator that only ever saw the current rollout says nothing reliable there: the
discriminator also trains on a reservoir of agent transitions from the whole run
(`disc_replay_size`). And once the policy matches the expert, g is barely constrained and
drifts with every step: the discriminator's learning rate decays to zero with PPO's
(`disc_anneal_lr`). Train fresh agents with `PPOConfig(normalize_rewards=True)`, as
`imitax train rl` does: g's scale, and the absorbing fold's, is arbitrary.

Everything else (the compiled loop, discriminator steps, PPO update, seeds) is GAIL's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from imitax.algos.gail import GAIL, AdversarialResult, GAILState, check_replay, train_adversarial
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.errors import ConfigError, require_positive
from imitax.nets.airl_reward import AIRLRewardNet
from imitax.nets.mlp import check_network
from imitax.rl.loop import ChunkCallback, LoopCheckpoint
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
    absorbing: bool = True
    """terminal transitions lead to a learned absorbing state (removes the termination bias)"""
    disc_anneal_lr: bool = True
    """decay the discriminator's learning rate linearly to zero over the run, so g settles
    (late in a run, with the policy at the expert, a constant rate let g drift: a
    Pendulum reward that transferred at 1.00 two thirds of the way through did not at the end)"""
    disc_replay_size: int = 100_000
    """agent transitions kept from the whole run (reservoir) for the discriminator; 0: current rollout only.
    Keeps g low on the states of earlier, worse policies, which is where a fresh agent trained
    on the saved reward starts (without it a CartPole reward led fresh agents off the track's edge)"""
    disc_replay_fraction: float = 0.5
    """share of each discriminator batch's agent samples drawn from the replay"""
    disc_grad_penalty: float = 0.0  # read by GAIL's loss; AIRL keeps it at 0 (a penalty on g did not help transfer)

    def validate(self) -> AIRLConfig:
        self.ppo.validate()
        if self.reward not in AIRL_REWARDS:
            raise ConfigError(f"unknown AIRL reward {self.reward!r}; expected one of {', '.join(AIRL_REWARDS)}")
        require_positive(self, "airl", "disc_learning_rate", "disc_steps", "disc_batch_size")
        check_network(self.disc_hidden_sizes, self.disc_activation, hidden_name="airl.disc_hidden_sizes",
                      activation_name="airl.disc_activation")
        check_replay(self, "airl")
        if self.disc_grad_penalty != 0:
            raise ConfigError("airl.disc_grad_penalty is not supported; expected 0")
        return self

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> AIRLConfig:
        ppo_overrides = overrides.pop("ppo", {})
        ppo = PPOConfig.for_env(env_id, **{**AIRL_PPO.get(env_id, {}), **ppo_overrides})
        return dataclasses.replace(cls(ppo=ppo, **AIRL_TUNED.get(env_id, {})), **overrides)


# CartPole at PPO's 500k steps: one seed in five stalled (0.37); at 1M all five reached the expert.
AIRL_PPO: dict[str, dict[str, Any]] = {"CartPole-v1": {"total_steps": 1_000_000}}
# Measured (3 seeds, 10 demos): with the shaped reward one CartPole seed in three stalled
# at half the expert's return; the positive reward reached it on every seed.
AIRL_TUNED: dict[str, dict[str, Any]] = {"CartPole-v1": {"reward": "positive"}}


@dataclasses.dataclass(frozen=True)
class AIRL(GAIL):
    config: AIRLConfig  # type: ignore[assignment]

    @property
    def discriminator(self) -> AIRLRewardNet:  # type: ignore[override]
        c = self.config
        return AIRLRewardNet(self.spec, tuple(c.disc_hidden_sizes), c.disc_activation, c.state_only, c.ppo.gamma,
                             c.absorbing)

    def log_policy(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """log pi(a|s) under the current policy, held fixed for the discriminator."""
        params = jax.lax.stop_gradient(state.ppo.policy_params)
        return self.ppo.policy.distribution(params, transitions.obs).log_prob(transitions.actions)

    def logits(self, net_params: Any, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        params = {"net": net_params, "obs_norm": state.disc_params["obs_norm"]}
        return self.discriminator.shaped_reward(params, transitions) - self.log_policy(state, transitions)

    def absorbing_loss(self, net_params: Any, expert: Transitions, agent: Transitions) -> jnp.ndarray:
        """Cross-entropy of the absorbing state's logit g_abs (absorbing actions are
        arbitrary, so no log pi term). Each terminal transition is followed by the
        absorbing state's whole discounted occupancy, gamma / (1 - gamma) visits, the
        same weight its reward gets in the return."""
        if not self.config.absorbing:
            return jnp.zeros(())
        net = self.discriminator
        g_abs = net.absorbing_reward({"net": net_params, "obs_norm": None})
        # the per-step loss of the absorbing state, summed over its occupancy like a reward
        return net.absorbing_value(optax.sigmoid_binary_cross_entropy(g_abs, 1.0), expert.terminated.mean()) + \
            net.absorbing_value(optax.sigmoid_binary_cross_entropy(g_abs, 0.0), agent.terminated.mean())

    def reward(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """The generator's reward. Signed rewards (shaped, logit) get the absorbing state's
        value after terminal transitions. The positive reward does not: it pays for every
        step survived, so it assumes ending an episode is never expert-like (absorbing
        reward 0, its lower bound); with the absorbing state's learned softplus(g_abs) > 0
        folded in, early on it paid the agent to end episodes."""
        if self.config.reward == "positive":
            return jax.nn.softplus(self.logits(state.disc_params["net"], state, transitions))
        net = self.discriminator
        step = net.shaped_reward(state.disc_params, transitions) if self.config.reward == "shaped" else \
            self.logits(state.disc_params["net"], state, transitions)
        return step + net.absorbing_value(net.absorbing_reward(state.disc_params), transitions.terminated)

    def update_discriminator(self, state: GAILState, agent: Transitions) -> tuple[GAILState, dict[str, jnp.ndarray]]:
        state, metrics = super().update_discriminator(state, agent)
        return state, {**metrics, "disc_absorbing_reward": self.discriminator.absorbing_reward(state.disc_params)}

    def learned_reward(self, disc_params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """g(s[, a]) plus the absorbing value after terminal transitions: the reward to reuse, f32[...]."""
        return self.discriminator.reward(disc_params, transitions)


def train_airl(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: AIRLConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> AdversarialResult:
    """Learn a reward and a policy from the expert transitions `expert` (`[num_transitions, ...]`)."""
    config.validate()
    return train_adversarial(AIRL(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint)
