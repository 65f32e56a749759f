"""On-policy training on either backend, and `train_ppo` built on it.

`run_on_policy` takes a learner as three pure functions:
`init(key) -> state`, `act(state, key, obs) -> (actions, extras)` and
`update(state, rollout) -> (state, metrics)`. On a JAX environment one iteration
(rollout + update) is scanned under one jit and vmapped over seeds; on a Gymnasium
environment the rollout is a host loop and `act`/`update` are jitted once each.
PPO, GAIL and AIRL all run through it. Several runs (seeds, sweep points) on a Gymnasium
environment step together: one vector env holds every run's copies, and act and update are
vmapped over the runs (`_run_lockstep`), as the off-policy loop's runs do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from imitax.data.rollout import EnvCarry, HostRollout, LockstepRollout, Rollout, reset_jax, rollout_jax
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv, copies_for
from imitax.envs.jax_env import JaxEnv
from imitax.errors import CheckpointError
from imitax.rl.loop import (ChunkCallback, LoopCheckpoint, LoopResult, SweepPoints, first_runs, host_member, pad_runs,
                          run_compiled, run_host, run_host_lockstep, seed_slice, shard_runs, splits_host_runs, stack_runs)
from imitax.rl.ppo import PPO, PPOConfig, PPOState

# reward_fn(transitions [T, N]) -> f32[T, N]; None means the environment's reward
RewardFn = Callable[[Transitions], jnp.ndarray]
State = Any


@dataclasses.dataclass(frozen=True)
class OnPolicyLearner:
    init: Callable[[jax.Array], State]
    act: Callable[[State, jax.Array, jnp.ndarray], tuple[jnp.ndarray, dict[str, jnp.ndarray]]]
    update: Callable[[State, Rollout], tuple[State, dict[str, jnp.ndarray]]]
    num_envs: int
    rollout_steps: int


def _with_episode_return(update: Callable[[State, Rollout], tuple[State, dict[str, Any]]], state: State, rollout: Rollout) -> tuple[State, dict[str, Any]]:
    state, metrics = update(state, rollout)
    metrics["episode_return"] = rollout.mean_episode_return()
    return state, metrics


def run_on_policy(
    env: JaxEnv | GymnasiumEnv,
    learner: OnPolicyLearner,
    num_iterations: int,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    points: SweepPoints | None = None,
) -> LoopResult:
    """Returns a LoopResult whose carry's first element is the learner state [num_seeds, ...]
    ([num_points * num_seeds, ...] with sweep `points`, point-major). With `checkpoint`,
    progress is saved between chunks and a saved run resumes."""
    update = partial(_with_episode_return, learner.update)
    num_points = 1 if points is None else points.count
    if isinstance(env, JaxEnv):
        def init(key: jax.Array) -> tuple[State, EnvCarry, jax.Array]:
            learner_key, env_key, loop_key = jax.random.split(key, 3)
            return learner.init(learner_key), reset_jax(env, env_key, learner.num_envs), loop_key

        def iteration(carry: tuple[State, EnvCarry, jax.Array]) -> tuple[Any, dict[str, Any]]:
            state, env_carry, key = carry
            key, rollout_key = jax.random.split(key)
            env_carry, rollout = rollout_jax(env, partial(learner.act, state), env_carry, rollout_key, learner.rollout_steps)
            state, metrics = update(state, rollout)
            return (state, env_carry, key), metrics

        carry = None if points is None else points.initial_carry(init, seed, num_seeds)
        return run_compiled(init, iteration, jax.random.PRNGKey(seed), num_iterations, num_seeds=num_points * num_seeds,
                            on_chunk=on_chunk, carry=carry, checkpoint=checkpoint, stop_on_divergence=points is None)

    with copies_for(env, learner.num_envs * num_points * num_seeds) as copies:  # closed after the run
        if num_points * num_seeds > 1:
            return _run_lockstep(copies, learner, update, num_iterations, seed, num_seeds, points, on_chunk, checkpoint)
        return _run_alone(copies, learner, update, num_iterations, seed, points, on_chunk, checkpoint)


def _run_alone(env: GymnasiumEnv, learner: OnPolicyLearner,
               update: Callable[[State, Rollout], tuple[State, dict[str, Any]]], num_iterations: int, seed: int,
               points: SweepPoints | None, on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None) -> LoopResult:
    """The Gymnasium loop of one run: `env` holds its `learner.num_envs` copies; act and update
    are jitted once each."""
    act, update_jit = jax.jit(learner.act), jax.jit(update)

    def host_init(member_seed: int) -> tuple[State, HostRollout, jax.Array]:
        run_seed, state, loop_key = host_member(points, member_seed, seed, 1, learner.init)
        return state, HostRollout(env, run_seed), loop_key

    def host_iteration(carry: tuple[State, HostRollout, jax.Array]) -> tuple[Any, dict[str, Any]]:
        state, host, key = carry
        key, rollout_key = jax.random.split(key)
        rollout = host.collect(partial(act, state), rollout_key, learner.rollout_steps)
        state, metrics = update_jit(state, rollout)
        return (state, host, key), metrics

    return run_host(host_init, host_iteration, seed, num_iterations, on_chunk=on_chunk, checkpoint=checkpoint,
                    saved_part=lambda carry: (carry[0], carry[2]),
                    with_saved_part=lambda carry, saved: (saved[0], carry[1], saved[1]), stop_on_divergence=points is None)


def _run_lockstep(env: GymnasiumEnv, learner: OnPolicyLearner,
                  update: Callable[[State, Rollout], tuple[State, dict[str, Any]]], num_iterations: int, seed: int,
                  num_seeds: int, points: SweepPoints | None, on_chunk: ChunkCallback | None,
                  checkpoint: LoopCheckpoint | None) -> LoopResult:
    """The Gymnasium loop of several runs stepped together: `env` holds `learner.num_envs`
    copies per run; each env step acts for every run in one vmapped call, and each iteration
    runs every run's update in one vmapped call. Each run is the run `host_member` numbers, with
    the keys and env seeds it gets alone (its numbers can differ in the last bits: a vmapped
    update is another program). On GPUs the runs are split over the devices (`shard_runs`:
    padding runs copy the last; their actions and metrics are dropped), not on CPU devices
    (`loop.SPLIT_HOST_RUNS_ON_CPU`). A checkpoint holds one (state, key, iterations) per run."""
    num_runs = env.num_envs // learner.num_envs
    members = [host_member(points, seed + index, seed, num_seeds, learner.init) for index in range(num_runs)]
    place = shard_runs if splits_host_runs() else (lambda tree: tree)
    act_all = jax.jit(jax.vmap(learner.act))
    update_all = jax.jit(jax.vmap(update))
    split_all = jax.jit(jax.vmap(lambda key: tuple(jax.random.split(key))))

    def init() -> tuple[Any, ...]:
        states, keys = place((stack_runs([m[1] for m in members]), stack_runs([m[2] for m in members])))
        return states, LockstepRollout(env, [m[0] for m in members]), keys, 0

    def iteration(carry: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        states, rollouts, keys, done = carry
        keys, rollout_keys = split_all(keys)
        rollout = rollouts.collect(lambda step_keys, obs: act_all(states, step_keys, pad_runs(obs, len(step_keys))),
                                   rollout_keys, learner.rollout_steps)
        states, metrics = update_all(states, pad_runs(rollout, len(keys)))
        if len(keys) > num_runs:  # padding runs' metrics dropped (sliced only then: each slice is a dispatch)
            metrics = {name: values[:num_runs] for name, values in metrics.items()}
        return (states, rollouts, keys, done + 1), metrics

    def saved_part(carry: tuple[Any, ...]) -> list[Any]:
        states, _, keys, done = carry
        return [(*seed_slice((states, keys), index), done) for index in range(num_runs)]

    def with_saved_part(carry: tuple[Any, ...], saved: list[Any], iterations: int) -> tuple[Any, ...]:
        done = sorted({int(part[2]) for part in saved})
        if done != [iterations]:
            raise CheckpointError(f"the checkpoint records {iterations} iterations and its runs at {done}; expected "
                                  f"every run at {iterations}")
        states, keys = place(stack_runs([part[:2] for part in saved]))
        return states, carry[1], keys, iterations

    def result_part(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        states, _, keys, _ = carry
        states, keys = first_runs((states, keys), num_runs)
        return states, None, keys

    return run_host_lockstep(init, iteration, num_runs, num_iterations, saved_part, with_saved_part,
                             checked_part=lambda carry: (carry[0], carry[2]), result_part=result_part,
                             on_chunk=on_chunk, checkpoint=_OlderCheckpointNamed(checkpoint) if checkpoint else None,
                             stop_on_divergence=points is None)


@dataclasses.dataclass(frozen=True)
class _OlderCheckpointNamed:
    """`checkpoint`, whose refusal of an older imitax's multi-seed Gymnasium checkpoint says what it is:
    saved while the seeds ran one after another, it holds (state, key) per run, without the
    iterations each run has done."""

    checkpoint: LoopCheckpoint

    def restore(self, template: Any) -> tuple[int, Any, Any] | None:
        try:
            return self.checkpoint.restore(template)
        except CheckpointError as error:
            if "/0/2 is missing" not in str(error):  # the first run's iteration count
                raise
            raise CheckpointError(f"{error} (an older imitax's multi-seed Gymnasium checkpoint, saved while it ran the "
                                  "seeds one after another: start that run anew)") from None

    def due(self, final: bool) -> bool:
        return self.checkpoint.due(final)

    def save(self, iterations: int, carry: Any, history: Any) -> None:
        self.checkpoint.save(iterations, carry, history)


@dataclasses.dataclass
class PPOResult:
    """state: PPOState with a leading [num_seeds] axis; history: {metric: [num_seeds, num_updates]}."""

    ppo: PPO
    state: PPOState
    history: dict[str, Any]
    compile_s: float
    run_s: float

    @property
    def env_steps(self) -> int:
        return self.ppo.config.num_updates * self.ppo.config.batch_size


def ppo_learner(ppo: PPO, reward_fn: RewardFn | None = None) -> OnPolicyLearner:
    """PPO on the environment's reward, or on `reward_fn` of the transitions."""

    def update(state: PPOState, rollout: Rollout) -> tuple[PPOState, dict[str, Any]]:
        rewards = rollout.transitions.rewards if reward_fn is None else reward_fn(rollout.transitions)
        return ppo.update(state, rollout, rewards)

    return OnPolicyLearner(ppo.init, ppo.act, update, ppo.config.num_envs, ppo.config.rollout_steps)


def train_ppo(
    env: JaxEnv | GymnasiumEnv,
    config: PPOConfig,
    seed: int = 0,
    num_seeds: int = 1,
    reward_fn: RewardFn | None = None,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> PPOResult:
    """Train PPO; `num_seeds` independent runs (vmapped on JAX envs)."""
    config.validate()
    ppo = PPO(config, env.spec)
    result = run_on_policy(env, ppo_learner(ppo, reward_fn), config.num_updates, seed, num_seeds, on_chunk, checkpoint)
    return PPOResult(ppo, result.carry[0], result.history, result.compile_s, result.run_s)
