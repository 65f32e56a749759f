"""DAC: discriminator-actor-critic (Kostrikov et al., 2019), off-policy adversarial imitation.

GAIL's discriminator (the same network, loss, absorbing state and gradient penalty, from
`imitax.algos.gail`) with SAC as the generator: every iteration steps the environments,
appends to the replay, takes `disc_steps` discriminator steps on agent transitions drawn
from the whole replay against expert transitions, then `gradient_steps` SAC steps on
replay batches scored by the current discriminator (reward "logit", log D - log(1 - D),
plus the absorbing state's value after terminal transitions). Reusing old transitions is
what makes it an order of magnitude more sample-efficient than GAIL on PPO.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from imitax.algos.gail import GAIL, DiscriminatorOptions
from imitax.algos.off_policy_imitation import (IMITATION_SAC, OffPolicyImitationResult, SACImitation, sac_for_env,
                                                train_off_policy_imitation)
from imitax.data.replay import ReplayBuffer, Reservoir
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.loop import ChunkCallback, LoopCheckpoint
from imitax.rl.sac import SACConfig, SACState

@dataclasses.dataclass(frozen=True)
class DACConfig(DiscriminatorOptions):
    """DAC hyperparameters (GAIL's discriminator options); `DACConfig.for_env(id)` adds the task's budget."""

    sac: SACConfig = IMITATION_SAC
    """the generator (its total_steps is the run's length)"""
    disc_steps: int = 1
    """discriminator gradient steps per iteration (an iteration is num_envs * rollout_steps env steps)"""

    # read by GAIL's discriminator code; class attributes, not options: DAC's agent samples
    # always come from its off-policy replay
    disc_replay_size = 0
    disc_replay_fraction = 0.0

    def validate(self) -> DACConfig:
        self.sac.validate()
        self.validate_discriminator("dac")
        return self

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> DACConfig:
        """The defaults with the task's budget; `sac={...}` overrides generator fields."""
        sac = sac_for_env(env_id, **overrides.pop("sac", {}))
        return dataclasses.replace(cls(sac=sac), **overrides)


@struct.dataclass
class DACState:
    """The fields GAIL's discriminator code reads, with SAC in place of PPO."""

    sac: SACState
    disc_params: dict[str, Any]
    disc_opt_state: optax.OptState
    expert: Transitions  # fields [num_expert, ...]
    key: jax.Array
    replay: Reservoir | None = None  # unused: agent samples come from the off-policy replay
    reward_params: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class DAC(SACImitation, GAIL):
    """GAIL's discriminator code with `SACImitation`'s SAC learner and policy."""

    config: DACConfig  # type: ignore[assignment]

    @property
    def gamma(self) -> float:
        return self.config.sac.gamma

    @property
    def num_disc_updates(self) -> int:
        return self.config.sac.num_iterations * self.config.disc_steps

    def init(self, key: jax.Array, expert: Transitions) -> DACState:  # type: ignore[override]
        sac_key, disc_key, key = jax.random.split(key, 3)
        disc_params = self.discriminator.init(disc_key, ObsNormalizer.identity(self.spec.obs_dim).update(expert.obs))
        opt_state = self.disc_optimizer(self.config.disc_anneal_lr).init(disc_params["net"])
        return DACState(self.sac.init(sac_key), disc_params, opt_state, expert, key)

    def act(self, state: DACState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:  # type: ignore[override]
        return self.sac.act(state.sac, key, obs)

    def update(self, state: DACState, replay: ReplayBuffer, key: jax.Array) -> tuple[DACState, dict[str, jnp.ndarray]]:  # type: ignore[override]
        """Discriminator steps on replayed agent transitions, then SAC steps on its reward."""
        c = self.config
        disc_key, sac_key = jax.random.split(key)
        agent = replay.sample(disc_key, c.disc_steps * c.disc_batch_size)
        state, disc_metrics = self.update_discriminator(state, agent)

        def step(sac_state: SACState, step_key: jax.Array) -> tuple[SACState, dict[str, jnp.ndarray]]:
            batch = replay.sample(step_key, c.sac.batch_size)
            return self.sac.update(sac_state, batch, self.reward(state, batch))

        sac_state, sac_metrics = jax.lax.scan(step, state.sac, jax.random.split(sac_key, c.sac.gradient_steps))
        return state.replace(sac=sac_state), {**jax.tree.map(jnp.mean, sac_metrics), **disc_metrics}


def train_dac(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: DACConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> OffPolicyImitationResult:
    """Imitate the expert transitions `expert` (fields `[num_transitions, ...]`)."""
    config.validate()
    return train_off_policy_imitation(DAC(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint)
