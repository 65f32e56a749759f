"""DAC: discriminator-actor-critic (Kostrikov et al., 2019), off-policy adversarial imitation.

DAC is GAIL with the SAC generator (`GAILConfig(generator="sac")`): the same discriminator,
loss, absorbing state and gradient penalty; every iteration steps the environments, appends
to the replay, takes one discriminator step (`disc_steps` unset) on agent transitions drawn
from the whole replay against expert transitions, then `gradient_steps` SAC steps on replay
batches scored by the current discriminator (reward "positive", -log(1 - D) as in the paper's
code, plus the absorbing state's value after terminal transitions; see `gail.DEFAULT_REWARD`).
Reusing old transitions is what makes it an order of magnitude more sample-efficient than
GAIL on PPO. `DACConfig` is only GAIL's config with the SAC generator chosen; `imitax train
gail --gail.generator sac` is the same method.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from imitax.algos.adversarial import AdversarialResult, train_adversarial
from imitax.algos.gail import GAIL, GAILConfig, hide_episode_context
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.rl.loop import ChunkCallback, LoopCheckpoint

DAC = GAIL


@dataclasses.dataclass(frozen=True)
class DACConfig(GAILConfig):
    """GAIL's config with the SAC generator; `DACConfig.for_env(id)` adds the task's budgets."""

    generator: str = "sac"
    """sac (DAC) | ppo (GAIL)"""

    def validate(self) -> DACConfig:
        self.validate_discriminator("dac")
        return self


def train_dac(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: DACConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> AdversarialResult:
    """Imitate the expert transitions `expert` (fields `[num_transitions, ...]`); `hyperparams`
    ({traced field: f[num_points]}) makes it a sweep of num_points x num_seeds runs."""
    config = hide_episode_context(config.validate(), env, expert, seed)
    return train_adversarial(DAC(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint, hyperparams)
