"""The generator of adversarial imitation: the RL learner that a discriminator's reward trains.

One protocol over an on-policy learner (PPO: learns from each rollout, then discards it) and
an off-policy one (SAC: learns from a replay of the whole run), so GAIL and AIRL take either
as configuration. The adversarial method owns the discriminator; the generator owns how the
agent acts, where the discriminator's agent samples come from (`agent_transitions`), how the
policy improves on a reward (`improve`) and which loop runs it (`run`). `data` is whatever
that loop hands an update: a `Rollout` [T, N] for PPO, the `ReplayBuffer` for SAC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp

from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, LoopResult, SweepPoints
from imitax.rl.off_policy import OffPolicyLearner, run_off_policy, sac_steps
from imitax.rl.ppo import PPO, PPOConfig
from imitax.rl.sac import SAC, SACConfig
from imitax.rl.train import OnPolicyLearner, run_on_policy

State = Any
RewardFn = Callable[[Transitions], jnp.ndarray]
# update(state, data, key) -> (state, metrics); key is None for an on-policy generator
Update = Callable[[State, Any, jax.Array | None], tuple[State, dict[str, jnp.ndarray]]]


class Generator(Protocol):
    """What an adversarial method needs of its RL learner."""

    spec: EnvSpec

    @property
    def policy(self) -> Any: ...
    @property
    def gamma(self) -> float: ...
    @property
    def num_iterations(self) -> int: ...
    @property
    def steps_per_iteration(self) -> int:
        """Env steps per iteration, per seed."""
    def init(self, key: jax.Array) -> State: ...
    def act(self, state: State, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]: ...
    def policy_params(self, state: State) -> dict[str, Any]: ...
    def log_prob(self, state: State, transitions: Transitions) -> jnp.ndarray:
        """f32[...]: log pi(a|s) of transitions `[...]` under the current policy, held fixed, in
        the coordinates the policy samples in (for SAC, the actions before the tanh squash)."""
    def agent_transitions(self, data: Any, key: jax.Array | None, num: int) -> Transitions:
        """The agent transitions `[n, ...]` the discriminator learns from this iteration."""
    def improve(self, state: State, data: Any, reward_fn: RewardFn, key: jax.Array | None, demos: Transitions | None = None,
                bc_weight: Any = 0.0) -> tuple[State, dict[str, jnp.ndarray]]:
        """The learner's update on `data`, with rewards from `reward_fn(transitions)` (and, PPO
        only, `bc_weight` times behavioural cloning on `demos`)."""
    def run(self, env: JaxEnv | GymnasiumEnv, init: Callable[[jax.Array], State], act: Callable[..., Any], update: Update,
            seed: int, num_seeds: int, on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None,
            points: SweepPoints | None = None) -> LoopResult:
        """Runs the method (`init`, `act`, `update`) in this learner's loop; with sweep `points`,
        num_points x num_seeds runs in one program (where the loop supports it)."""


@dataclasses.dataclass(frozen=True)
class _Learner:
    """What both generators take from their learner (`learner`: PPO or SAC)."""

    config: Any
    spec: EnvSpec

    @property
    def learner(self) -> Any:
        raise NotImplementedError

    @property
    def policy(self) -> Any:
        return self.learner.policy

    @property
    def gamma(self) -> float:
        return self.config.gamma

    def init(self, key: jax.Array) -> State:
        return self.learner.init(key)

    def act(self, state: State, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        return self.learner.act(state, key, obs)

    def policy_params(self, state: State) -> dict[str, Any]:
        return state.policy_params


@dataclasses.dataclass(frozen=True)
class PPOGenerator(_Learner):
    """PPO: one rollout per iteration; the discriminator learns from that rollout."""

    config: PPOConfig

    @property
    def learner(self) -> PPO:
        return PPO(self.config, self.spec)

    @property
    def num_iterations(self) -> int:
        return self.config.num_updates

    @property
    def steps_per_iteration(self) -> int:
        return self.config.batch_size

    def log_prob(self, state: State, transitions: Transitions) -> jnp.ndarray:
        params = jax.lax.stop_gradient(state.policy_params)
        return self.policy.distribution(params, transitions.obs).log_prob(transitions.actions)

    def agent_transitions(self, data: Any, key: jax.Array | None, num: int) -> Transitions:
        """The whole rollout, flattened to [T * N, ...] (the discriminator draws its batches from it)."""
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), data.transitions)

    def improve(self, state: State, data: Any, reward_fn: RewardFn, key: jax.Array | None, demos: Transitions | None = None,
                bc_weight: Any = 0.0) -> tuple[State, dict[str, jnp.ndarray]]:
        return self.learner.update(state, data, reward_fn(data.transitions), demos, bc_weight)

    def run(self, env: JaxEnv | GymnasiumEnv, init: Callable[[jax.Array], State], act: Callable[..., Any], update: Update,
            seed: int, num_seeds: int, on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None,
            points: SweepPoints | None = None) -> LoopResult:
        learner = OnPolicyLearner(init=init, act=act, update=lambda state, rollout: update(state, rollout, None),
                                  num_envs=self.config.num_envs, rollout_steps=self.config.rollout_steps)
        return run_on_policy(env, learner, self.num_iterations, seed, num_seeds, on_chunk, checkpoint, points)


@dataclasses.dataclass(frozen=True)
class SACGenerator(_Learner):
    """SAC: every iteration steps the envs into a replay of the whole run; the discriminator
    and `gradient_steps` SAC steps draw their batches from it (DAC's generator)."""

    config: SACConfig

    @property
    def learner(self) -> SAC:
        return SAC(self.config, self.spec)

    @property
    def num_iterations(self) -> int:
        return self.config.num_iterations

    @property
    def steps_per_iteration(self) -> int:
        return self.config.steps_per_iteration

    def log_prob(self, state: State, transitions: Transitions) -> jnp.ndarray:
        """On Box actions the density of the pre-squash u = atanh(a) (rescaled), without the
        squash's log-Jacobian: that term depends on the action alone, so AIRL's discriminator
        exp(f) / (exp(f) + pi) means the same in either coordinate, but it grows without bound
        towards the bounds, where a near bang-bang expert's actions sit (InvertedPendulum-v5:
        14% within 0.1% of a bound, +7.8 nats there), and a smooth f cannot cancel it. With
        it, AIRL-SAC failed all 6 runs on InvertedPendulum-v5 (3 seeds x 10 demos and 1 demo,
        0.02-0.16); without, 2 of 5 reached 1.00 (the others 0.03-0.11; g(s) and g(s, a)
        alike), so it is one cause of that failure, not the only one. Pendulum: unchanged.
        Actions are pulled just inside the bounds first (atanh is infinite on them)."""
        params = jax.lax.stop_gradient(state.policy_params)
        dist = self.policy.distribution(params, transitions.obs)
        if self.spec.discrete:
            return dist.log_prob(transitions.actions)
        space = self.spec.action_space
        low, high = jnp.asarray(space.low_array), jnp.asarray(space.high_array)
        margin = 1e-4 * (high - low)
        return dist.log_prob_unsquashed(jnp.clip(transitions.actions, low + margin, high - margin))

    def agent_transitions(self, data: Any, key: jax.Array | None, num: int) -> Transitions:
        """`num` transitions drawn uniformly from the replay."""
        return data.sample(key, num)

    def improve(self, state: State, data: Any, reward_fn: RewardFn, key: jax.Array | None) -> tuple[State, dict[str, jnp.ndarray]]:
        return sac_steps(self.learner, state, data, key, reward_fn)

    def run(self, env: JaxEnv | GymnasiumEnv, init: Callable[[jax.Array], State], act: Callable[..., Any], update: Update,
            seed: int, num_seeds: int, on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None,
            points: SweepPoints | None = None) -> LoopResult:
        c = self.config
        learner = OffPolicyLearner(init, act, update, c.num_envs, c.rollout_steps, c.learning_starts, c.buffer_capacity)
        return run_off_policy(env, learner, self.num_iterations, seed, num_seeds, on_chunk, checkpoint, points)


GENERATORS = ("ppo", "sac")


def make_generator(kind: str, ppo: PPOConfig, sac: SACConfig, spec: EnvSpec) -> PPOGenerator | SACGenerator:
    """The generator named `kind` ("ppo" or "sac") with its config."""
    return PPOGenerator(ppo, spec) if kind == "ppo" else SACGenerator(sac, spec)
