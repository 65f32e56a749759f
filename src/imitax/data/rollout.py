"""Rolling out a policy: compiled on JAX environments, a host loop on Gymnasium ones.

Both produce the same `Rollout` pytree (time-major, `[num_steps, num_envs]`), so
every learner consumes one type whatever the backend. `record_episodes` runs a policy
that is plain Python (NumPy, a controller, a person) on either backend, untraced.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from imitax.data.types import Trajectory, Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv, HostStep, copies_for
from imitax.envs.jax_env import EnvState, JaxEnv
from imitax.envs.spec import Box, Discrete, executed_actions

# act_fn(key, obs: f32[n, obs_dim]) -> (actions, extras: dict of f32[n] arrays)
ActFn = Callable[[jax.Array, jnp.ndarray], tuple[jnp.ndarray, dict[str, jnp.ndarray]]]


@struct.dataclass
class Rollout:
    """`num_steps` steps of `num_envs` environments.

    transitions: fields `[num_steps, num_envs, ...]`; actions are what the policy
        produced (Box actions unclipped: learners clip where they need the executed one).
    extras: per-step outputs of the act function, e.g. log_prob and value, `[T, N]`.
    episode_return: f32[T, N], total return of an episode that ended at that step.
    """

    transitions: Transitions
    extras: dict[str, jnp.ndarray]
    episode_return: jnp.ndarray

    def mean_episode_return(self) -> jnp.ndarray:
        """Mean return of the episodes that ended in this rollout; NaN when none did."""
        dones = self.transitions.dones
        count = dones.sum()
        return jnp.where(count > 0, (self.episode_return * dones).sum() / jnp.maximum(count, 1), jnp.nan)


@struct.dataclass
class EnvCarry:
    """The environments between rollouts: state and the observations to act on."""

    state: EnvState
    obs: jnp.ndarray


def reset_jax(env: JaxEnv, key: jax.Array, num_envs: int) -> EnvCarry:
    obs, state = env.reset_batch(key, num_envs)
    return EnvCarry(state, obs)


def rollout_jax(env: JaxEnv, act_fn: ActFn, carry: EnvCarry, key: jax.Array, num_steps: int) -> tuple[EnvCarry, Rollout]:
    """`num_steps` vectorised steps as one `lax.scan` (call under jit)."""

    def one_step(carry: EnvCarry, step_key: jax.Array) -> tuple[EnvCarry, Rollout]:
        act_key, env_key = jax.random.split(step_key)
        actions, extras = act_fn(act_key, carry.obs)
        step = env.step_batch(env_key, carry.state, actions)
        transitions = Transitions(carry.obs, actions, step.reward, step.next_obs, step.terminated, step.truncated)
        return EnvCarry(step.state, step.obs), Rollout(transitions, extras, step.episode_return)

    return jax.lax.scan(one_step, carry, jax.random.split(key, num_steps))


class HostRollout:
    """Collects rollouts from a Gymnasium vector env with a jitted act function.

    The env is reset with `seed` at the first `collect`, not before: the host loops make every
    seed's rollout up front and run the seeds one after another on one vector env, so an
    earlier reset would be undone by the seeds that run first."""

    def __init__(self, env: GymnasiumEnv, seed: int):
        self.env = env
        self.seed = seed
        self.obs: Any = None

    def collect(self, act_fn: ActFn, key: jax.Array, num_steps: int) -> Rollout:
        """`act_fn` should be jitted; it is called once per step."""
        if self.obs is None:
            self.obs = self.env.reset(self.seed)
        steps: list[Any] = []
        for step_key in jax.random.split(key, num_steps):
            actions, extras = act_fn(step_key, self.obs)
            actions, extras = jax.device_get((actions, extras))
            step = self.env.step(actions)
            steps.append((self.obs, actions, step, extras))
            self.obs = step.obs
        return _stack_host_steps(steps)


class LockstepRollout:
    """Collects one rollout for each of `num_runs` runs at once from one Gymnasium vector env of
    `num_runs * n` copies, run r owning copies r * n ... r * n + n - 1 and seeding them as a run
    of its own would (`seeds[r] + j`). `act_fn(keys [K], obs f32[R, n, obs_dim])` acts for all
    runs in one call (a vmapped, jitted act; K >= R keys, the first R for the runs: the others
    are for padding runs, whose actions are dropped); the env is reset at the first `collect`."""

    def __init__(self, env: GymnasiumEnv, seeds: list[int]):
        if env.num_envs % len(seeds):
            raise ValueError(f"{env.num_envs} env copies do not split evenly between {len(seeds)} runs")
        self.env = env
        self.seeds = seeds
        self.envs_per_run = env.num_envs // len(seeds)
        self.obs: Any = None

    def collect(self, act_fn: Callable[[jax.Array, jnp.ndarray], tuple[jnp.ndarray, dict[str, jnp.ndarray]]],
                keys: jax.Array, num_steps: int) -> Rollout:
        """keys: [K >= R] rollout keys, split per step as `HostRollout.collect` splits one; the
        Rollout's fields are [R, num_steps, n, ...]."""
        runs, n = len(self.seeds), self.envs_per_run
        if self.obs is None:
            self.obs = self.env.reset([seed + j for seed in self.seeds for j in range(n)])
        step_keys = np.asarray(_split_per_run(keys, num_steps))  # [K, T, 2]
        steps: list[Any] = []
        for t in range(num_steps):
            obs = self.obs.reshape(runs, n, *self.obs.shape[1:])
            actions, extras = jax.device_get(act_fn(step_keys[:, t], obs))
            actions = np.asarray(actions)[:runs].reshape(runs * n, *np.shape(actions)[2:])
            step = self.env.step(actions)
            extras = {name: np.asarray(value)[:runs].reshape(runs * n) for name, value in extras.items()}
            steps.append((self.obs, actions, step, extras))
            self.obs = step.obs
        # fields [T, R * n, ...] -> [R, T, n, ...], in NumPy: as JAX operations these were ~20
        # dispatches per env step of an off-policy loop
        per_run = lambda x: np.swapaxes(x.reshape(num_steps, runs, n, *x.shape[2:]), 0, 1)  # noqa: E731
        return _stack_host_steps(steps, per_run)


@partial(jax.jit, static_argnums=1)
def _split_per_run(keys: jax.Array, num_steps: int) -> jax.Array:
    """Each run's rollout key split into its per-step keys, [K, num_steps, 2] (compiled once, not
    traced again every iteration)."""
    return jax.vmap(lambda key: jax.random.split(key, num_steps))(keys)


def _stack_host_steps(steps: list[Any], arrange: Callable[[np.ndarray], np.ndarray] = lambda x: x) -> Rollout:
    """The host steps as a Rollout, fields [T, num_envs, ...] rearranged by `arrange`."""
    def stack(values: list[np.ndarray]) -> jnp.ndarray:
        return jnp.asarray(arrange(np.stack(values)))

    transitions = Transitions(
        obs=stack([s[0] for s in steps]),
        actions=stack([s[1] for s in steps]),
        rewards=stack([s[2].reward for s in steps]),
        next_obs=stack([s[2].next_obs for s in steps]),
        terminated=stack([s[2].terminated for s in steps]),
        truncated=stack([s[2].truncated for s in steps]),
    )
    extras = {name: stack([s[3][name] for s in steps]) for name in steps[0][3]}
    return Rollout(transitions, extras, stack([s[2].episode_return for s in steps]))


def split_episodes(rollout: Rollout, max_episodes: int | None = None) -> list[Trajectory]:
    """Cut a host copy of a rollout into the complete episodes it contains.

    Episodes in progress at the start of the rollout are skipped only if the caller
    started mid-episode; a rollout that starts from a reset yields, per environment,
    every episode that finished. Order: by environment, then time.
    """
    tr = jax.device_get(rollout.transitions)
    num_steps, num_envs = tr.rewards.shape
    episodes: list[Trajectory] = []
    for env_index in range(num_envs):
        start = 0
        for t in range(num_steps):
            if tr.terminated[t, env_index] or tr.truncated[t, env_index]:
                obs = np.concatenate([tr.obs[start : t + 1, env_index], tr.next_obs[t : t + 1, env_index]])
                episodes.append(
                    Trajectory(
                        obs=obs.astype(np.float32),
                        actions=np.asarray(tr.actions[start : t + 1, env_index]),
                        rewards=tr.rewards[start : t + 1, env_index].astype(np.float32),
                        terminated=bool(tr.terminated[t, env_index]),
                    )
                )
                start = t + 1
    return episodes[:max_episodes] if max_episodes is not None else episodes


def episode_returns_jax(env: JaxEnv, policy_fn: Callable[[jax.Array, jnp.ndarray], jnp.ndarray], key: jax.Array, num_episodes: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Returns and lengths `f32[num_episodes]`, `i32[num_episodes]` of one episode per
    parallel env; pure, so learners call it inside their compiled loops."""
    reset_key, run_key = jax.random.split(key)
    obs, state = env.reset_batch(reset_key, num_episodes)
    init = (obs, state, jnp.zeros(num_episodes), jnp.zeros(num_episodes, jnp.int32), jnp.zeros(num_episodes, bool))

    def step(carry: Any, step_key: jax.Array) -> tuple[Any, None]:
        obs, state, returns, lengths, finished = carry
        act_key, env_key = jax.random.split(step_key)
        out = env.step_batch(env_key, state, policy_fn(act_key, obs))
        done = out.terminated | out.truncated
        first_end = done & ~finished
        returns = jnp.where(first_end, out.episode_return, returns)
        lengths = jnp.where(first_end, out.episode_length, lengths)
        return (out.obs, out.state, returns, lengths, finished | done), None

    (_, _, returns, lengths, _), _ = jax.lax.scan(step, init, jax.random.split(run_key, env.spec.max_episode_steps))
    return returns, lengths


def collect_episodes(
    env: JaxEnv | GymnasiumEnv,
    policy_fn: Callable[[jax.Array, jnp.ndarray], jnp.ndarray],
    key: jax.Array,
    num_episodes: int,
) -> list[Trajectory]:
    """`num_episodes` complete episodes, the first one of each of `num_episodes` parallel
    envs (so short episodes are not over-represented). Box actions are stored clipped to
    the bounds, as executed."""
    steps = env.spec.max_episode_steps

    def act(step_key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        return executed_actions(env.spec.action_space, policy_fn(step_key, obs)), {}

    reset_key, run_key = jax.random.split(key)
    if isinstance(env, JaxEnv):
        @jax.jit
        def run(reset_key: jax.Array, run_key: jax.Array) -> Rollout:
            return rollout_jax(env, act, reset_jax(env, reset_key, num_episodes), run_key, steps)[1]

        rollout = run(reset_key, run_key)
    else:
        with copies_for(env, num_episodes) as vec:
            rollout = HostRollout(vec, int(jax.random.randint(reset_key, (), 0, 2**30))).collect(jax.jit(act), run_key, steps)
    return _first_episode_per_env(rollout)


def _first_episode_per_env(rollout: Rollout) -> list[Trajectory]:
    num_envs = rollout.transitions.rewards.shape[1]
    episodes = []
    for env_index in range(num_envs):
        one_env = jax.tree.map(lambda x: x[:, env_index : env_index + 1], rollout)
        found = split_episodes(one_env, max_episodes=1)
        if not found:
            raise RuntimeError(f"environment {env_index} did not finish an episode within the time limit")
        episodes.extend(found)
    return episodes


# --------------------------------------------------------------------------------------
# host recording: any Python policy, no tracing

# host_act(obs: f32[num_envs, obs_dim]) -> actions i32[num_envs] or f32[num_envs, action_dim] (NumPy)
HostActFn = Callable[[np.ndarray], np.ndarray]


class HostJaxEnv:
    """A `JaxEnv` stepped one jitted vectorised step at a time from the host, with the
    `GymnasiumEnv` interface (`reset(seed)`, `step(actions) -> HostStep`), so a Python
    policy can drive it."""

    backend = "jax"

    def __init__(self, env: JaxEnv, num_envs: int = 1):
        self.env, self.spec, self.num_envs = env, env.spec, num_envs
        self.obs_shape: tuple[int, ...] = (env.spec.obs_dim,)
        self.action_shape: tuple[int, ...] = env.spec.action_space.shape
        self._reset = jax.jit(env.reset_batch, static_argnums=1)
        self._step = jax.jit(env.step_batch)
        self._key = jax.random.PRNGKey(0)
        self._state: EnvState | None = None

    def with_num_envs(self, num_envs: int) -> HostJaxEnv:
        return self if num_envs == self.num_envs else HostJaxEnv(self.env, num_envs)

    def reset(self, seed: int) -> np.ndarray:
        """obs: f32[num_envs, obs_dim]."""
        reset_key, self._key = jax.random.split(jax.random.PRNGKey(seed))
        obs, self._state = self._reset(reset_key, self.num_envs)
        return np.asarray(obs)

    def step(self, actions: np.ndarray) -> HostStep:
        """actions: i32[num_envs] or f32[num_envs, action_dim]."""
        self._key, step_key = jax.random.split(self._key)
        out = self._step(step_key, self._state, jnp.asarray(actions))
        self._state = out.state
        fields = (out.obs, out.reward, out.terminated, out.truncated, out.next_obs, out.episode_return, out.episode_length)
        return HostStep(*(np.asarray(field) for field in jax.device_get(fields)))

    def close(self) -> None:
        pass


def record_episodes(env: GymnasiumEnv | HostJaxEnv, host_act: HostActFn, num_episodes: int, seed: int) -> list[Trajectory]:
    """`num_episodes` complete episodes of a host policy (NumPy, a controller, a person:
    never traced or jitted), over `env`'s `num_envs` copies.

    The episodes are shared out among the copies up front and each copy contributes its
    first ones, so short episodes are not over-represented. Box actions are stored
    clipped to the bounds, as executed.

    Args:
        host_act: `obs f32[num_envs, obs_dim] -> actions i32[num_envs] | f32[num_envs, action_dim]`.

    Returns:
        Trajectories ordered by copy, then time: `obs f32[n + 1, obs_dim]`, `actions i32[n]`
        or `f32[n, action_dim]`, `rewards f32[n]`.
    """
    spec, num_envs = env.spec, env.num_envs
    quota = [num_episodes // num_envs + (index < num_episodes % num_envs) for index in range(num_envs)]
    finished: list[list[Trajectory]] = [[] for _ in range(num_envs)]
    steps: list[list[tuple[np.ndarray, np.ndarray, float]]] = [[] for _ in range(num_envs)]
    obs = env.reset(seed)
    for _ in range(max(quota) * spec.max_episode_steps):
        if all(len(done) >= wanted for done, wanted in zip(finished, quota)):
            break
        actions = np.asarray(host_act(obs))
        stored = _stored_actions(spec.action_space, actions)
        out = env.step(actions)
        for index in range(num_envs):
            if len(finished[index]) >= quota[index]:
                continue
            steps[index].append((obs[index], stored[index], float(out.reward[index])))
            if out.terminated[index] or out.truncated[index]:
                episode = steps[index]
                finished[index].append(Trajectory(
                    obs=np.stack([step[0] for step in episode] + [out.next_obs[index]]).astype(np.float32),
                    actions=np.stack([step[1] for step in episode]),
                    rewards=np.asarray([step[2] for step in episode], np.float32),
                    terminated=bool(out.terminated[index]),
                ))
                steps[index] = []
        obs = out.obs
    if any(len(done) < wanted for done, wanted in zip(finished, quota)):
        raise RuntimeError(f"{spec.env_id}: an episode did not end within its time limit of {spec.max_episode_steps} steps")
    return [episode for per_env in finished for episode in per_env]


def _stored_actions(space: Discrete | Box, actions: np.ndarray) -> np.ndarray:
    """Actions as executed: i32[n], or f32[n, action_dim] clipped to the bounds."""
    if isinstance(space, Discrete):
        return actions.astype(np.int32).reshape(-1)
    return np.clip(actions.reshape(actions.shape[0], -1), space.low_array, space.high_array).astype(np.float32)
