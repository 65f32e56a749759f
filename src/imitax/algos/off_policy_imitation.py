"""What the off-policy imitation methods share: the SAC learner's defaults and per-task budgets
(SQIL, IQ-Learn and DAC's generator), and the base, loop and result of SQIL and IQ-Learn
(DAC runs through the adversarial loop, `imitax.algos.adversarial`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from imitax.data.replay import ReplayBuffer
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, SweepPoints
from imitax.rl.off_policy import OffPolicyLearner, run_off_policy
from imitax.rl.sac import SAC, SACConfig


# The SAC learner of SQIL and of DAC's generator on every task (IQ-Learn's differs in its
# temperature and critics); the per-task table holds budgets only.
IMITATION_SAC = SACConfig(total_steps=100_000, learning_starts=1_000)
BUDGETS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"total_steps": 60_000},
    "Pendulum-v1": {"total_steps": 20_000},
    # 40k since 2026-11-29: at 20k a seed of DAC (0.53) and of IQ-Learn (0.14) from 1 demo was caught in a dip
    # after reaching 0.9; at 40k DAC, SQIL and IQ-Learn from 10 demos and from 1 score 1.000 on 5 seeds each,
    # 0.9 within 21k env steps (GAIL: 147k-514k)
    "InvertedPendulum-v5": {"total_steps": 40_000},
}


# the SAC learner's rates, held in its optimizer states (`SAC.with_learning_rates`): a sweep vmaps over them
SAC_RATE_FIELDS = ("sac.actor_learning_rate", "sac.critic_learning_rate", "sac.alpha_learning_rate")


def with_sac_rate(sac: SAC, state: Any, field: str, value: Any) -> Any:
    """The SAC state `state` with the rate named by `field` (one of SAC_RATE_FIELDS) set to `value`."""
    name = field.removeprefix("sac.").removesuffix("_learning_rate")
    return sac.with_learning_rates(state, **{name: value})


def sac_for_env(env_id: str, base: SACConfig = IMITATION_SAC, **overrides: Any) -> SACConfig:
    """`base` with the task's budget and `overrides` applied."""
    return dataclasses.replace(base, **{**BUDGETS.get(env_id, {}), **overrides})


@dataclasses.dataclass(frozen=True)
class SACImitation:
    """What SQIL and IQ-Learn objects share: a config with a `sac` field, the env spec, the SAC
    learner and its policy."""

    config: Any
    spec: EnvSpec

    @property
    def sac(self) -> SAC:
        return SAC(self.config.sac, self.spec)

    @property
    def policy(self) -> Any:
        return self.sac.policy

    def policy_params(self, state: Any) -> dict[str, Any]:
        return state.sac.policy_params

    @property
    def traced_fields(self) -> tuple[str, ...]:
        """Config fields whose values live in the state (the SAC learner's rates), so that one
        compiled program runs any values of them (a sweep vmaps over these; see `with_hyperparams`)."""
        return SAC_RATE_FIELDS

    def with_hyperparams(self, state: Any, values: dict[str, Any]) -> Any:
        """`state` with the `traced_fields` in `values` ({field: f32[] or float}) set."""
        sac_state = state.sac
        for field, value in values.items():
            if field not in self.traced_fields:
                raise ConfigError(f"{field} is not a traced field of this config; expected one of "
                                  f"{', '.join(self.traced_fields) or '(none)'}")
            sac_state = with_sac_rate(self.sac, sac_state, field, value)
        return state.replace(sac=sac_state)


def expert_rows(expert: Transitions, key: jax.Array, n: int) -> Transitions:
    """n transitions drawn uniformly with replacement from `expert` (fields [num_expert, ...])."""
    rows = jax.random.randint(key, (n,), 0, expert.obs.shape[0])
    return jax.tree.map(lambda x: x[rows], expert)


def mixed_batch(expert: Transitions, replay: ReplayBuffer, key: jax.Array, num_expert: int,
                batch_size: int) -> Transitions:
    """A batch [batch_size, ...]: `num_expert` expert rows first, then agent rows from the replay."""
    expert_key, agent_key = jax.random.split(key)
    agent = replay.sample(agent_key, batch_size - num_expert)
    return jax.tree.map(lambda e, a: jnp.concatenate([e, a.astype(e.dtype)]), expert_rows(expert, expert_key, num_expert),
                        agent)


@dataclasses.dataclass
class OffPolicyImitationResult:
    """algo: the method object (its `policy` acts); state: its state with a leading
    [num_seeds] axis (`state.sac.policy_params`); history: {metric: [num_seeds, iterations]};
    env_steps: per seed (0 for an offline run)."""

    algo: Any
    state: Any
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float
    env_steps: int | None = None  # None: every iteration's env steps (an online run)

    def __post_init__(self) -> None:
        if self.env_steps is None:
            sac = self.algo.config.sac
            self.env_steps = sac.num_iterations * sac.steps_per_iteration

    @property
    def gradient_steps(self) -> int:
        """Per seed."""
        sac = self.algo.config.sac
        return sac.num_iterations * sac.gradient_steps


def train_off_policy_imitation(algo: Any, env: JaxEnv | GymnasiumEnv, expert: Transitions, seed: int, num_seeds: int,
                               on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None,
                               hyperparams: dict[str, Any] | None = None) -> OffPolicyImitationResult:
    """The off-policy loop for a method with `init(key, expert)`, `act` and `update(state, replay, key)`;
    `hyperparams` ({traced field: f[num_points]}) makes it a sweep, as in `train_adversarial`."""
    expert = jax.device_put(expert)  # jnp.asarray would compile a program per field shape
    sac = algo.config.sac
    learner = OffPolicyLearner(lambda key: algo.init(key, expert), algo.act, algo.update, sac.num_envs,
                               sac.rollout_steps, sac.learning_starts, sac.buffer_capacity)
    points = SweepPoints.of(hyperparams, algo.with_hyperparams)
    result = run_off_policy(env, learner, sac.num_iterations, seed, num_seeds, on_chunk, checkpoint, points)
    return OffPolicyImitationResult(algo, result.carry[0], result.history, result.compile_s, result.run_s)
