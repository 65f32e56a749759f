"""SQIL: soft Q imitation learning (Reddy, Dragan & Levine, 2020), on SAC.

Reward 1 for every expert transition and 0 for every agent transition, then ordinary
soft actor-critic: each gradient step draws `expert_fraction` of its batch from the
demonstrations and the rest from the agent's replay. The agent is paid for returning to
and staying on the expert's states; as its own transitions fill the replay with zeros,
the reward it earns off the expert's states decays. Box actions use SAC's squashed
Gaussian, Discrete ones discrete SAC (the paper's soft Q-learning with a learned policy).

Termination (`absorbing=True`): a terminal transition leads to one absorbing state, the
same whichever source reached it, folded into the terminal transition's reward as
gamma / (1 - gamma) times its per-step reward (see `imitax.nets.absorbing`). Like any state
both sources visit, that reward is the label its rows would average to under the batch's
mixture: the expert's share of the terminal rows a batch draws, from the demonstrations'
and the replay's termination rates. Where the expert never ends an episode (it balances
until the time limit) the absorbing state is the agent's alone and worth 0, so a fall forfeits
the per-step label forever; where the expert ends them (it reaches a goal) ending is paid,
less as the agent's own endings grow common, and the agent's goal reached is paid the same
as the expert's. (A per-source reward, 1 after expert rows and 0 after the agent's, taught
the agent that its own arrival at the goal was worthless: held-out Acrobot-v1 reached the
expert by a fifth of the run and then learned to delay the goal, 0.70 on 2 seeds; 0.98 on 3 with
the shared state. Held-out MountainCar-v0 gains nothing: 0.951 against 0.968, 2 seeds.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from imitax.algos.off_policy_imitation import (IMITATION_SAC, OffPolicyImitationResult, SACImitation, mixed_batch,
                                                sac_for_env, train_off_policy_imitation)
from imitax.data.replay import ReplayBuffer
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.errors import ConfigError
from imitax.nets.absorbing import absorbing_value
from imitax.rl.loop import ChunkCallback, LoopCheckpoint
from imitax.rl.sac import SACConfig, SACState

# SAC with slower actor and critic (1e-4, not 3e-4): at 3e-4 SQIL reached 0.9 on Pendulum and
# then decayed on most seeds as the replay filled with the agent's own transitions labelled 0
# (10 demos, 5 seeds: 0.68 against 1.00 at 1e-4; 1 demo: 0.73 against 0.80). CartPole and
# InvertedPendulum-v5 reach 1.0 with either (1 seed at 1e-4; 0.9 at 10k env steps on CartPole
# instead of 5.5k). Measured on the tuning tasks, benchmarks/results/off_policy_tuning.jsonl.
#
# With `absorbing_entropy` (since 2026-11-28): the agent's rows are all labelled 0, so once its own
# transitions fill the replay nothing but SAC's entropy bonus separates living from falling, and on
# a Box task that bonus is a per-step cost that ending an episode escaped. Held-out
# InvertedDoublePendulum-v5 from 10 demos (seed 0) reached 5,300 per episode and then fell to 85
# (random 47) for the rest of the run; with it, 1.000 (see benchmarks/RESULTS.md).
#
# A fixed temperature of 0.01 (since 2026-11-29), IQ-Learn's, not SAC's learned one from 1.0. SQIL's
# reward is 1 or 0 on every task, so one temperature means the same everywhere; SAC's, sized for
# env rewards, kept the entropy bonus above SQIL's reward until it had decayed (no progress in the
# first ~8k env steps on Pendulum) and then kept moving the critic's targets as it chased the
# target entropy. Pendulum from 1 demo, 5 seeds: 0.994 [0.96-1.02], 0.9 at 6-10k env steps, against
# 0.900 (one seed 0.55) and 10-14k; learned from 0.1: 0.657 (two seeds fell to 0.17 after reaching
# 0.9). benchmarks/RESULTS.md has every tuning task's figures.
SQIL_SAC = dataclasses.replace(IMITATION_SAC, actor_learning_rate=1e-4, critic_learning_rate=1e-4,
                               absorbing_entropy=True, init_alpha=0.01, learn_alpha=False)


@dataclasses.dataclass(frozen=True)
class SQILConfig:
    """SQIL hyperparameters; `SQILConfig.for_env(id)` adds the task's budget."""

    sac: SACConfig = SQIL_SAC
    """the soft actor-critic learner (its total_steps is the run's length)"""
    # A quarter, not the paper's half (since 2026-11-28): better on two tuning cells, within 0.002 on the rest
    # (5 seeds each, 0.5 in brackets): Pendulum from 1 demo 0.900 (0.803), from 10 1.006 (1.004);
    # CartPole from 1 1.000 (0.984), from 10 0.994 (0.995); InvertedPendulum-v5 1.000 from 10 and 1 (1.000).
    expert_fraction: float = 0.25
    """share of each batch drawn from the demonstrations (the paper's code: 0.5)"""
    absorbing: bool = True
    """terminal transitions lead to one absorbing state, paid the expert's share of the terminal rows"""

    def validate(self) -> SQILConfig:
        self.sac.validate()
        if not 0.0 < self.expert_fraction < 1.0:
            raise ConfigError(f"sqil.expert_fraction must be in (0, 1), got {self.expert_fraction}")
        return self

    @property
    def expert_batch_size(self) -> int:
        return max(1, min(self.sac.batch_size - 1, round(self.expert_fraction * self.sac.batch_size)))

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> SQILConfig:
        """The defaults with the task's budget; `sac={...}` overrides learner fields."""
        sac = sac_for_env(env_id, base=SQIL_SAC, **overrides.pop("sac", {}))
        return dataclasses.replace(cls(sac=sac), **overrides)


@struct.dataclass
class SQILState:
    sac: SACState
    expert: Transitions  # fields [num_expert, ...]; carried so vmapped runs share one program


@dataclasses.dataclass(frozen=True)
class SQIL(SACImitation):
    config: SQILConfig

    def init(self, key: jax.Array, expert: Transitions) -> SQILState:
        return SQILState(self.sac.init(key), expert)

    def act(self, state: SQILState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        return self.sac.act(state.sac, key, obs)

    def absorbing_reward(self, expert: Transitions, replay: ReplayBuffer) -> jnp.ndarray:
        """f32[]: the absorbing state's per-step reward, the expert's share of the terminal rows
        a batch draws: f * p_expert / (f * p_expert + (1 - f) * p_agent), with f the batch's
        expert share and p the termination rates of the demonstrations (fields [num_expert, ...])
        and of the replay's filled slots; 0 when neither source has ended an episode."""
        expert_share = self.config.expert_batch_size / self.config.sac.batch_size
        expert_rate = expert.terminated.astype(jnp.float32).mean()
        filled = jnp.arange(replay.capacity) < replay.size
        agent_rate = jnp.sum(replay.items.terminated.astype(jnp.float32) * filled) / jnp.maximum(replay.size, 1)
        expert_mass = expert_share * expert_rate
        total = expert_mass + (1.0 - expert_share) * agent_rate
        return jnp.where(total > 0, expert_mass / jnp.maximum(total, 1e-12), 0.0)

    def rewards(self, batch: Transitions, from_expert: jnp.ndarray, absorbing_reward: jnp.ndarray) -> jnp.ndarray:
        """f32[B]: 1 for expert rows (`from_expert`: bool[B]), 0 for agent rows, plus, after
        terminal transitions, the absorbing state's value at `absorbing_reward` (f32[]) per step."""
        per_step = from_expert.astype(jnp.float32)
        if not self.config.absorbing:
            return per_step
        return per_step + absorbing_value(absorbing_reward, batch.terminated.astype(jnp.float32), self.config.sac.gamma)

    def update(self, state: SQILState, replay: ReplayBuffer, key: jax.Array) -> tuple[SQILState, dict[str, jnp.ndarray]]:
        """`gradient_steps` SAC steps, each on expert and agent rows labelled 1 and 0."""
        c = self.config
        num_expert = c.expert_batch_size
        from_expert = jnp.arange(c.sac.batch_size) < num_expert
        absorbing_reward = self.absorbing_reward(state.expert, replay)

        def step(sac_state: SACState, step_key: jax.Array) -> tuple[SACState, dict[str, jnp.ndarray]]:
            batch = mixed_batch(state.expert, replay, step_key, num_expert, c.sac.batch_size)
            return self.sac.update(sac_state, batch, self.rewards(batch, from_expert, absorbing_reward))

        sac_state, metrics = jax.lax.scan(step, state.sac, jax.random.split(key, c.sac.gradient_steps))
        metrics = jax.tree.map(jnp.mean, metrics)
        if c.absorbing:
            metrics["absorbing_reward"] = absorbing_reward
        return state.replace(sac=sac_state), metrics


def train_sqil(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: SQILConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> OffPolicyImitationResult:
    """Imitate the expert transitions `expert` (fields `[num_transitions, ...]`); `hyperparams`
    ({traced field: f[num_points]}) makes it a sweep of num_points x num_seeds runs."""
    config.validate()
    return train_off_policy_imitation(SQIL(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint,
                                      hyperparams)
