"""Learned rewards of a `TrainResult`: a network's (GAIL, AIRL, DAC, IQ-Learn) or a table (MCE IRL)."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

import jax.numpy as jnp
import numpy as np

from imitax.data.types import Transitions
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError
from imitax.io.reward_checkpoint import reward_network


@dataclasses.dataclass(frozen=True, eq=False)
class LearnedReward:
    """`reward(transitions, seed=0) -> f32[...]` for transitions with any leading shape `[...]`;
    called with transitions alone it is seed 0's, so it plugs into
    `imitax.rl.train.train_ppo(env, config, reward_fn=result.reward)`.

    algorithm: the method that learned it ("gail", "airl", "dac", "iq-learn").
    metadata: what its network is (network config, reward form), as reward/meta.json holds it.
    params: one parameter pytree per seed.
    """

    algorithm: str
    spec: EnvSpec
    metadata: dict[str, Any]
    params: tuple[Any, ...] = dataclasses.field(repr=False)

    @cached_property
    def _reward(self) -> Any:
        return reward_network(self.spec, {**self.metadata, "algorithm": self.algorithm})[1]

    @property
    def num_seeds(self) -> int:
        return len(self.params)

    def __call__(self, transitions: Transitions, seed: int = 0) -> jnp.ndarray:
        return self._reward(self.params[_seed_index(seed, self.num_seeds)], transitions)


@dataclasses.dataclass(frozen=True, eq=False)
class TabularReward:
    """MCE IRL's learned state reward: `reward(states, seed=0) -> f32[...]` for states i32[...].

    table: f32[num_seeds, S]; params: the reward model's parameters, one pytree per seed;
    model: the reward model's description (kind, hidden sizes); discount: the one it was fit with.
    """

    table: np.ndarray = dataclasses.field(repr=False)
    params: tuple[Any, ...] = dataclasses.field(repr=False)
    model: dict[str, Any]
    discount: float

    @property
    def num_seeds(self) -> int:
        return int(self.table.shape[0])

    def __call__(self, states: Any, seed: int = 0) -> jnp.ndarray:
        return jnp.asarray(self.table[_seed_index(seed, self.num_seeds)])[states]


def _seed_index(seed: int, num_seeds: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < num_seeds:
        raise ConfigError(f"seed {seed!r}: expected an index in [0, {num_seeds}) (this result has {num_seeds} "
                          f"seed{'s' if num_seeds != 1 else ''})")
    return int(seed)
