"""Any Gymnasium environment, vectorised with `gymnasium.vector` and stepped on the host.

The policy and the updates stay compiled; only the environment step runs in Python.
Observations must be a Box (multi-dimensional ones are flattened); actions Discrete or
Box. Anything else is rejected with a `SpaceError` that says what is supported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from imitax.envs.spec import Box, Discrete, EnvSpec, box_bounds, flat_dim
from imitax.errors import ConfigError, SpaceError, UnknownEnvError

DEFAULT_TIME_LIMIT = 1000


class HostStep(NamedTuple):
    """One vectorised step, NumPy arrays with leading dim `num_envs`.

    obs: f32[n, obs_dim] to act on next (reset obs where an episode ended);
    next_obs: f32[n, obs_dim] the true observation reached by this step;
    episode_return / episode_length: totals of episodes that ended on this step.
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray
    episode_return: np.ndarray
    episode_length: np.ndarray


class GymnasiumEnv:
    """`num_envs` copies of a Gymnasium environment in a `SyncVectorEnv`."""

    backend = "gymnasium"

    def __init__(self, env: str | gym.Env, num_envs: int = 1, **make_kwargs: Any):
        self._source, self._make_kwargs = env, make_kwargs
        factory, probe = _factory(env, make_kwargs)
        self.spec = spec_from_gymnasium(probe)
        self._native_action_shape = probe.action_space.shape
        probe.close()
        fns = [factory] if not isinstance(env, str) and num_envs == 1 else [factory] * num_envs
        self.num_envs = len(fns)
        self._vec = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        self._returns = np.zeros(self.num_envs, np.float64)
        self._lengths = np.zeros(self.num_envs, np.int64)

    def with_num_envs(self, num_envs: int) -> GymnasiumEnv:
        """The same environment with `num_envs` copies (itself when the count matches)."""
        if num_envs == self.num_envs:
            return self
        if isinstance(self._source, str):
            return GymnasiumEnv(self._source, num_envs=num_envs, **self._make_kwargs)
        if self._source.spec is not None and self._source.spec.id in gym.registry:
            return GymnasiumEnv(self._source.spec.id, num_envs=num_envs)
        raise ConfigError(
            f"{self.spec.env_id}: an environment instance runs as a single copy, but {num_envs} parallel "
            "environments were asked for; register it with gymnasium and pass its id, or set num_envs to 1"
        )

    def reset(self, seed: int) -> np.ndarray:
        """obs: f32[num_envs, obs_dim]."""
        obs, _ = self._vec.reset(seed=seed)
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return self._flat(obs)

    def step(self, actions: np.ndarray) -> HostStep:
        """actions: i32[num_envs] or f32[num_envs, action_dim] (clipped to the bounds here)."""
        obs, reward, terminated, truncated, info = self._vec.step(self._to_env_actions(actions))
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool) & ~terminated
        done = terminated | truncated
        next_obs = self._flat(obs).copy()
        if done.any():
            final = info["final_obs"]
            for i in np.flatnonzero(done):
                next_obs[i] = np.asarray(final[i], np.float32).reshape(-1)
        self._returns += reward
        self._lengths += 1
        episode_return = self._returns.astype(np.float32)
        episode_length = self._lengths.copy()
        self._returns[done] = 0.0
        self._lengths[done] = 0
        return HostStep(self._flat(obs), np.asarray(reward, np.float32), terminated, truncated,
                        next_obs, episode_return, episode_length)

    def close(self) -> None:
        self._vec.close()

    def _flat(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, np.float32).reshape(self.num_envs, -1)

    def _to_env_actions(self, actions: np.ndarray) -> np.ndarray:
        space = self.spec.action_space
        actions = np.asarray(actions)
        if isinstance(space, Discrete):
            return actions.astype(np.int64).reshape(self.num_envs)
        clipped = np.clip(actions, space.low_array, space.high_array)
        return clipped.reshape((self.num_envs, *self._native_action_shape)).astype(np.float32)


def _factory(env: str | gym.Env, make_kwargs: dict[str, Any]) -> tuple[Callable[[], gym.Env], gym.Env]:
    """A zero-argument constructor for the vector env and one instance to read spaces from."""
    if isinstance(env, str):
        def factory() -> gym.Env:
            made = gym.make(env, **make_kwargs)
            return made if made.spec is None or made.spec.max_episode_steps else gym.wrappers.TimeLimit(made, DEFAULT_TIME_LIMIT)
        try:
            return factory, factory()
        except gym.error.Error as error:  # a missing dependency (MuJoCo, Box2D), a bad make argument
            raise UnknownEnvError(f"cannot make Gymnasium environment {env!r}: {error}; expected an id whose "
                                  "dependencies are installed") from None
    if not isinstance(env, gym.Env):
        raise SpaceError(f"expected an environment id or a gymnasium.Env, got {type(env).__name__}")
    return (lambda: env), env


def spec_from_gymnasium(env: gym.Env) -> EnvSpec:
    """The `EnvSpec` of a Gymnasium environment; rejects spaces imitax cannot learn from."""
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    obs_space, act_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Box):
        raise SpaceError(
            f"{name}: observation space {obs_space} is not supported; expected a Box "
            "(flatten dict or discrete observations with a gymnasium wrapper first)"
        )
    if len(obs_space.shape) == 3 and obs_space.dtype == np.uint8:
        raise SpaceError(f"{name}: image observations {obs_space.shape} are not supported; expected a flat Box")
    if isinstance(act_space, gym.spaces.Discrete):
        if act_space.start != 0:
            raise SpaceError(f"{name}: Discrete action space starting at {act_space.start}; expected start 0")
        action_space: Discrete | Box = Discrete(int(act_space.n))
    elif isinstance(act_space, gym.spaces.Box):
        if not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
            raise SpaceError(f"{name}: Box action space with infinite bounds; expected finite low and high")
        action_space = box_bounds(act_space.low, act_space.high, act_space.shape)
    else:
        raise SpaceError(f"{name}: action space {act_space} is not supported; expected Discrete or Box")
    limit = env.spec.max_episode_steps if env.spec is not None and env.spec.max_episode_steps else DEFAULT_TIME_LIMIT
    return EnvSpec(name, flat_dim(obs_space.shape), action_space, int(limit))
