"""Off-policy training on either backend, and `train_sac` built on it.

`run_off_policy` takes a learner as pure functions: `init(key) -> state`,
`act(state, key, obs) -> (actions, extras)` and `update(state, replay, key) -> (state,
metrics)`, where `update` draws what it needs from the replay buffer (SAC: `gradient_steps`
batches; DAC: agent and expert batches for its discriminator too). One iteration steps
`num_envs` environments `rollout_steps` times (uniformly random actions for the first
`learning_starts` environment steps), appends the transitions to a FIFO `ReplayBuffer`,
then, once `learning_starts` steps are stored, calls `update`.

On a JAX environment the iteration is scanned under one jit and vmapped over seeds, the
buffer inside the carry. On a Gymnasium environment the host steps a vector env with a
jitted `act`, and one jitted call per iteration appends the rollout and runs the update
(the buffer donated, so it is updated in place rather than copied). The runs of a
multi-seed or sweep program step together there too: one vector env holds every run's
copies, and act and update are vmapped over the runs (split over the local devices, but not
over CPU devices: `loop.SPLIT_HOST_RUNS_ON_CPU`). On the 2-core CPU, 3 SAC runs on Hopper-v5 stepped
together ran at 1.24x the same runs one after another (benchmarks/off_policy_speed.py). An env instance given alone runs them one after another
on itself (a copy from its spec would miss what was changed on it by hand). The buffer is saved
with checkpoints (a resumed run continues with the same replay) and is left out of the
divergence check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from imitax.data.replay import ReplayBuffer
from imitax.data.rollout import HostRollout, LockstepRollout, Rollout, reset_jax, rollout_jax
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv, copies_for
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import Box, EnvSpec
from imitax.errors import CheckpointError
from imitax.rl.loop import (ChunkCallback, LoopCheckpoint, LoopResult, SweepPoints, first_runs, host_member, pad_runs,
                          run_compiled, run_host, run_host_lockstep, seed_slice, shard_runs, splits_host_runs, stack_runs)
from imitax.rl.sac import SAC, SACConfig, SACState

# reward_fn(transitions [B]) -> f32[B]; None means the environment's reward
RewardFn = Callable[[Transitions], jnp.ndarray]
State = Any


@dataclasses.dataclass(frozen=True)
class OffPolicyLearner:
    init: Callable[[jax.Array], State]
    act: Callable[[State, jax.Array, jnp.ndarray], tuple[jnp.ndarray, dict[str, jnp.ndarray]]]
    update: Callable[[State, ReplayBuffer, jax.Array], tuple[State, dict[str, jnp.ndarray]]]
    num_envs: int
    rollout_steps: int
    learning_starts: int
    buffer_capacity: int


def random_actions(spec: EnvSpec, key: jax.Array, num: int) -> jnp.ndarray:
    """Uniformly random actions: f32[num, action_dim] inside the bounds, or i32[num]."""
    space = spec.action_space
    if isinstance(space, Box):
        return jax.random.uniform(key, (num, spec.action_dim), minval=jnp.asarray(space.low_array),
                                  maxval=jnp.asarray(space.high_array))
    return jax.random.randint(key, (num,), 0, space.n)


def _flat(transitions: Transitions) -> Transitions:
    """[T, N, ...] -> [T * N, ...]."""
    return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), transitions)


def _store(replay: ReplayBuffer, transitions: Transitions) -> ReplayBuffer:
    """A rollout's transitions ([T, N, ...]) appended to the replay."""
    return replay.add(_flat(transitions))


def _store_and_update(update: Callable[..., tuple[State, dict[str, jnp.ndarray]]], state: State, replay: ReplayBuffer,
                      transitions: Transitions, key: jax.Array) -> tuple[State, ReplayBuffer, dict[str, jnp.ndarray]]:
    """The rollout appended, then the learner's update on the replay."""
    replay = _store(replay, transitions)
    state, metrics = update(state, replay, key)
    return state, replay, metrics


def _skip_update(update: Callable[..., tuple[State, dict[str, jnp.ndarray]]], state: State, replay: ReplayBuffer,
                 key: jax.Array) -> tuple[State, dict[str, jnp.ndarray]]:
    """The state unchanged and zero metrics shaped like `update`'s (before learning starts)."""
    _, metric_shapes = jax.eval_shape(update, state, replay, key)
    return state, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), metric_shapes)


def run_off_policy(
    env: JaxEnv | GymnasiumEnv,
    learner: OffPolicyLearner,
    num_iterations: int,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    points: SweepPoints | None = None,
) -> LoopResult:
    """Returns a LoopResult whose carry's first element is the learner state [num_seeds, ...]
    ([num_points * num_seeds, ...] with sweep `points`, point-major, as `run_on_policy`) and
    second the replay buffer."""
    spec, steps_per_iteration = env.spec, learner.num_envs * learner.rollout_steps
    num_points = 1 if points is None else points.count

    def allocate() -> ReplayBuffer:
        space = spec.action_space
        action = jnp.zeros((1, spec.action_dim), jnp.float32) if isinstance(space, Box) else jnp.zeros((1,), jnp.int32)
        obs = jnp.zeros((1, spec.obs_dim), jnp.float32)
        flag = jnp.zeros((1,), bool)
        example = Transitions(obs, action, jnp.zeros((1,), jnp.float32), obs, flag, flag)
        return ReplayBuffer.allocate(example, learner.buffer_capacity)

    if isinstance(env, JaxEnv):
        def init(key: jax.Array) -> tuple[Any, ...]:
            learner_key, env_key, loop_key = jax.random.split(key, 3)
            return (learner.init(learner_key), allocate(), reset_jax(env, env_key, learner.num_envs), loop_key,
                    jnp.zeros((), jnp.int32))

        def iteration(carry: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            state, replay, env_carry, key, env_steps = carry
            key, rollout_key, update_key = jax.random.split(key, 3)
            exploring = env_steps < learner.learning_starts

            def act(step_key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
                policy_key, random_key = jax.random.split(step_key)
                actions, _ = learner.act(state, policy_key, obs)
                return jnp.where(exploring, random_actions(spec, random_key, obs.shape[0]), actions), {}

            env_carry, rollout = rollout_jax(env, act, env_carry, rollout_key, learner.rollout_steps)
            replay = replay.add(_flat(rollout.transitions))
            env_steps = env_steps + steps_per_iteration
            state, metrics = jax.lax.cond(env_steps >= learner.learning_starts, learner.update,
                                          partial(_skip_update, learner.update), state, replay, update_key)
            metrics = {**metrics, "episode_return": rollout.mean_episode_return()}
            return (state, replay, env_carry, key, env_steps), metrics

        carry = None if points is None else points.initial_carry(init, seed, num_seeds)
        return run_compiled(init, iteration, jax.random.PRNGKey(seed), num_iterations, num_seeds=num_points * num_seeds,
                            on_chunk=on_chunk, carry=carry, checkpoint=checkpoint,
                            checked_part=lambda carry: (carry[0], carry[2], carry[3]),
                            stop_on_divergence=points is None)

    all_copies = num_points * num_seeds * learner.num_envs
    lockstep = env.makes_copies or env.num_envs == all_copies  # else an instance alone: its runs go one after another
    with copies_for(env, all_copies if lockstep else learner.num_envs) as copies:  # closed after the run
        if lockstep:
            return _run_lockstep(copies, learner, allocate, num_iterations, seed, num_seeds, points, on_chunk,
                                 checkpoint)
        return _run_one_after_another(copies, learner, allocate, num_iterations, seed, num_seeds, points, on_chunk,
                                      checkpoint)


def _run_one_after_another(env: GymnasiumEnv, learner: OffPolicyLearner, allocate: Callable[[], ReplayBuffer],
                           num_iterations: int, seed: int, num_seeds: int, points: SweepPoints | None,
                           on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None) -> LoopResult:
    """The Gymnasium loop of an env instance given alone (no copies for every run): `env` holds
    `learner.num_envs` copies and the runs use it one after another."""
    spec, steps_per_iteration = env.spec, learner.num_envs * learner.rollout_steps
    num_points = 1 if points is None else points.count
    act_jit = jax.jit(learner.act)
    random_jit = jax.jit(partial(random_actions, spec), static_argnums=1)

    store_jit = jax.jit(_store, donate_argnums=0)
    store_and_update_jit = jax.jit(partial(_store_and_update, learner.update), donate_argnums=1)

    warmup_metrics: dict[str, jnp.ndarray] = {}  # zeros shaped like the update's metrics

    def host_init(member_seed: int) -> tuple[Any, ...]:
        run_seed, state, loop_key = host_member(points, member_seed, seed, num_seeds, learner.init)
        return state, allocate(), HostRollout(env, run_seed), loop_key, 0

    def host_iteration(carry: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        state, replay, host, key, env_steps = carry
        key, rollout_key, update_key = jax.random.split(key, 3)
        if env_steps < learner.learning_starts:
            act = lambda step_key, obs: (random_jit(step_key, obs.shape[0]), {})  # noqa: E731
        else:
            act = partial(act_jit, state)
        rollout = host.collect(act, rollout_key, learner.rollout_steps)
        env_steps += steps_per_iteration
        if env_steps >= learner.learning_starts:
            state, replay, metrics = store_and_update_jit(state, replay, rollout.transitions, update_key)
        else:
            replay = store_jit(replay, rollout.transitions)
            if not warmup_metrics:  # traced once, not every warm-up step
                warmup_metrics.update(_skip_update(learner.update, state, replay, update_key)[1])
            metrics = dict(warmup_metrics)
        metrics = {**metrics, "episode_return": rollout.mean_episode_return()}
        return (state, replay, host, key, env_steps), metrics

    return run_host(host_init, host_iteration, seed, num_iterations, num_seeds=num_points * num_seeds, on_chunk=on_chunk,
                    checkpoint=checkpoint, saved_part=lambda carry: (carry[0], carry[1], carry[3], carry[4]),
                    with_saved_part=lambda carry, saved: (saved[0], saved[1], carry[2], saved[2], int(saved[3])),
                    checked_part=lambda carry: (carry[0], carry[3]), stop_on_divergence=points is None)


def _run_lockstep(env: GymnasiumEnv, learner: OffPolicyLearner, allocate: Callable[[], ReplayBuffer],
                  num_iterations: int, seed: int, num_seeds: int, points: SweepPoints | None,
                  on_chunk: ChunkCallback | None, checkpoint: LoopCheckpoint | None) -> LoopResult:
    """The Gymnasium loop with all runs stepped together: `env` holds `learner.num_envs` copies
    per run; each iteration acts for every run in one vmapped call per env step, steps all
    copies, and runs every run's update in one vmapped call; the runs are split over the local
    devices as `run_compiled` splits them (`shard_runs`: padding runs copy the last, and their
    actions and metrics are dropped), except on CPU devices (`loop.SPLIT_HOST_RUNS_ON_CPU`). Each run is the run `host_member` numbers, with the keys
    and env seeds it gets alone (the numbers can differ in the last bits: a vmapped update is a
    different program)."""
    spec, steps_per_iteration = env.spec, learner.num_envs * learner.rollout_steps
    num_runs = env.num_envs // learner.num_envs
    members = [host_member(points, seed + index, seed, num_seeds, learner.init) for index in range(num_runs)]

    place = shard_runs if splits_host_runs() else (lambda tree: tree)

    act_all = jax.jit(jax.vmap(learner.act))
    random_all = jax.jit(lambda keys, num: jax.vmap(lambda key: random_actions(spec, key, num))(keys), static_argnums=1)
    split_all = jax.jit(jax.vmap(lambda key: tuple(jax.random.split(key, 3))))
    store_all = jax.jit(jax.vmap(_store), donate_argnums=0)
    store_and_update_all = jax.jit(jax.vmap(partial(_store_and_update, learner.update)), donate_argnums=1)
    returns_all = jax.jit(jax.vmap(Rollout.mean_episode_return))
    warmup_metrics: dict[str, jnp.ndarray] = {}  # zeros shaped like the vmapped update's metrics

    def init() -> tuple[Any, ...]:
        replays = jax.jit(jax.vmap(lambda _: allocate()))(jnp.arange(num_runs))
        states, replays, keys = place((stack_runs([m[1] for m in members]), replays, stack_runs([m[2] for m in members])))
        return states, replays, LockstepRollout(env, [m[0] for m in members]), keys, 0

    def iteration(carry: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        states, replays, rollouts, keys, env_steps = carry
        keys, rollout_keys, update_keys = split_all(keys)
        if env_steps < learner.learning_starts:
            act = lambda step_keys, obs: (random_all(step_keys, obs.shape[1]), {})  # noqa: E731
        else:
            act = lambda step_keys, obs: act_all(states, step_keys, pad_runs(obs, len(step_keys)))  # noqa: E731
        rollout = rollouts.collect(act, rollout_keys, learner.rollout_steps)
        transitions = pad_runs(rollout.transitions, len(keys))
        env_steps += steps_per_iteration
        if env_steps >= learner.learning_starts:
            states, replays, metrics = store_and_update_all(states, replays, transitions, update_keys)
        else:
            replays = store_all(replays, transitions)
            if not warmup_metrics:  # traced once, not every warm-up step
                warmup_metrics.update(_skip_update(jax.vmap(learner.update), states, replays, update_keys)[1])
            metrics = dict(warmup_metrics)
        if len(keys) > num_runs:  # padding runs' metrics dropped (sliced only then: each slice is a dispatch)
            metrics = {name: values[:num_runs] for name, values in metrics.items()}
        return (states, replays, rollouts, keys, env_steps), {**metrics, "episode_return": returns_all(rollout)}

    def saved_part(carry: tuple[Any, ...]) -> list[Any]:
        """One (state, replay, key, env steps) per run, as the one-run-at-a-time loop saves them."""
        states, replays, _, keys, env_steps = carry
        return [(*seed_slice((states, replays, keys), index), env_steps) for index in range(num_runs)]

    def with_saved_part(carry: tuple[Any, ...], saved: list[Any], iterations: int) -> tuple[Any, ...]:
        steps = sorted({int(part[3]) for part in saved})
        if steps != [iterations * steps_per_iteration]:
            raise CheckpointError(
                f"the checkpoint records {iterations} iterations and its runs at env steps {steps}; expected every run "
                f"at {iterations * steps_per_iteration} env steps (an older imitax's multi-seed Gymnasium checkpoint, "
                "saved while it ran the seeds one after another: start that run anew)")
        states, replays, keys = place(stack_runs([part[:3] for part in saved]))
        return states, replays, carry[2], keys, iterations * steps_per_iteration

    def result_part(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        states, replays, _, keys, env_steps = carry
        states, replays, keys = first_runs((states, replays, keys), num_runs)
        return states, replays, None, keys, jnp.full((num_runs,), env_steps)

    return run_host_lockstep(init, iteration, num_runs, num_iterations, saved_part, with_saved_part,
                             checked_part=lambda carry: (carry[0], carry[3]), result_part=result_part,
                             on_chunk=on_chunk, checkpoint=checkpoint, stop_on_divergence=points is None)


def sac_learner(sac: SAC, reward_fn: RewardFn | None = None) -> OffPolicyLearner:
    """SAC on the environment's reward, or on `reward_fn` of the sampled transitions:
    `gradient_steps` steps per update, each on a fresh batch from the replay."""
    c = sac.config
    return OffPolicyLearner(sac.init, sac.act, partial(sac_steps, sac, reward_fn=reward_fn), c.num_envs,
                            c.rollout_steps, c.learning_starts, c.buffer_capacity)


def sac_steps(sac: SAC, state: SACState, replay: ReplayBuffer, key: jax.Array,
              reward_fn: RewardFn | None = None) -> tuple[SACState, dict[str, jnp.ndarray]]:
    """`gradient_steps` SAC steps, each on a fresh replay batch scored by `reward_fn` (None:
    the environment's reward); metrics averaged over the steps."""
    def step(state: SACState, step_key: jax.Array) -> tuple[SACState, dict[str, jnp.ndarray]]:
        batch = replay.sample(step_key, sac.config.batch_size)
        rewards = batch.rewards if reward_fn is None else reward_fn(batch)
        return sac.update(state, batch, rewards)

    state, metrics = jax.lax.scan(step, state, jax.random.split(key, sac.config.gradient_steps))
    return state, jax.tree.map(jnp.mean, metrics)


@dataclasses.dataclass
class SACResult:
    """state: SACState with a leading [num_seeds] axis; history: {metric: [num_seeds, num_iterations]}."""

    sac: SAC
    state: SACState
    history: dict[str, Any]
    compile_s: float
    run_s: float

    @property
    def env_steps(self) -> int:
        return self.sac.config.num_iterations * self.sac.config.steps_per_iteration


def train_sac(
    env: JaxEnv | GymnasiumEnv,
    config: SACConfig,
    seed: int = 0,
    num_seeds: int = 1,
    reward_fn: RewardFn | None = None,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> SACResult:
    """Train SAC; `num_seeds` independent runs (vmapped on JAX envs)."""
    config.validate()
    sac = SAC(config, env.spec)
    result = run_off_policy(env, sac_learner(sac, reward_fn), config.num_iterations, seed, num_seeds, on_chunk,
                            checkpoint)
    return SACResult(sac, result.carry[0], result.history, result.compile_s, result.run_s)

