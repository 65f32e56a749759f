"""Any Gymnasium environment, vectorised with `gymnasium.vector` and stepped on the host.

The policy and the updates stay compiled; only the environment step runs in Python.
Observations must be a Box (multi-dimensional ones are flattened); actions Discrete or
Box. Anything else is rejected with a `SpaceError` that says what is supported.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
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
    """`num_envs` copies of a Gymnasium environment in a `SyncVectorEnv`.

    `env` is an id (`"Pendulum-v1"`, or `"module:EnvId-v0"` to import the module that
    registers it), a factory (a class or a zero-argument function returning a
    `gymnasium.Env`), or an instance. Ids and factories make any number of copies. An
    instance alone runs as the one copy; with `factory` (which must make the same env) the
    factory makes every copy, and without one, more than one copy is remade from the
    instance's gymnasium spec (`gymnasium.make(env.spec)`: id, make arguments, wrappers).
    """

    backend = "gymnasium"

    def __init__(self, env: str | gym.Env | Callable[[], gym.Env], num_envs: int = 1, *,
                 factory: Callable[[], gym.Env] | None = None, **make_kwargs: Any):
        if num_envs < 1:
            raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
        if isinstance(env, gym.Env) and factory is None and num_envs > 1:
            factory = _remake_from_spec(env, num_envs)
        self._source, self._factory, self._make_kwargs = env, factory, make_kwargs
        copy_factory, probe = _factory(env, make_kwargs, factory)
        self.spec = spec_from_gymnasium(probe)
        # the env's own shapes (obs and Box actions are flattened to the spec's [dim] here)
        self.obs_shape: tuple[int, ...] = tuple(probe.observation_space.shape)
        self.action_shape: tuple[int, ...] = tuple(probe.action_space.shape)
        if copy_factory is None:  # an instance alone is the only copy
            fns = [lambda: probe]
        else:
            probe.close()  # made only to read the spaces
            fns = [copy_factory] * num_envs
        self.num_envs = num_envs
        self._vec = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        self._returns = np.zeros(self.num_envs, np.float64)
        self._lengths = np.zeros(self.num_envs, np.int64)

    @property
    def makes_copies(self) -> bool:
        """Whether the copies come from an id or a factory. An instance given alone does not
        count: `with_num_envs` remakes it from its gymnasium spec, which keeps its make
        arguments and recorded wrappers but not what was changed on it after it was made."""
        return isinstance(self._source, str) or self._factory is not None or not isinstance(self._source, gym.Env)

    def with_num_envs(self, num_envs: int) -> GymnasiumEnv:
        """The same environment with `num_envs` copies (itself when the count matches). An
        instance given alone is copied by `gymnasium.make(instance.spec)`: its id, make
        arguments and wrappers, as gymnasium records them.

        Raises:
            ConfigError: `num_envs > 1` for an instance given without a factory whose spec
                cannot remake it (not registered, or a wrapper gymnasium cannot recreate), or
                whose remade copy has other spaces or another time limit.
        """
        if num_envs == self.num_envs:
            return self
        return GymnasiumEnv(self._source, num_envs=num_envs, factory=self._factory, **self._make_kwargs)

    def reset(self, seed: int | list[int]) -> np.ndarray:
        """obs: f32[num_envs, obs_dim]. An int seeds copy i with seed + i; a list seeds each copy."""
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
        return clipped.reshape((self.num_envs, *self.action_shape)).astype(np.float32)


def _factory(env: str | gym.Env | Callable[[], gym.Env], make_kwargs: dict[str, Any],
             factory: Callable[[], gym.Env] | None) -> tuple[Callable[[], gym.Env] | None, gym.Env]:
    """A zero-argument constructor of time-limited copies (None for an instance given
    alone) and one environment to read the spaces from (the instance itself, if given)."""
    if isinstance(env, str):
        def from_id() -> gym.Env:
            return with_time_limit(gym.make(env, **make_kwargs))
        try:
            return from_id, from_id()
        except gym.error.Error as error:  # a missing dependency (MuJoCo, Box2D), a bad make argument
            raise UnknownEnvError(f"cannot make Gymnasium environment {env!r}: {error}; expected an id whose "
                                  "dependencies are installed") from None
    if isinstance(env, gym.Env):
        if factory is None:
            return None, with_time_limit(env)
        made: Callable[[], gym.Env] = factory
    elif callable(env):
        made = env
    else:
        raise SpaceError(f"expected an environment id, a gymnasium.Env or a factory returning one, "
                         f"got {type(env).__name__}")

    def from_factory() -> gym.Env:
        copy = made()
        if not isinstance(copy, gym.Env):
            raise SpaceError(f"the environment factory {getattr(made, '__name__', made)!r} returned "
                             f"{type(copy).__name__}; expected a gymnasium.Env")
        return with_time_limit(copy)

    probe = from_factory()
    if isinstance(env, gym.Env):  # every copy comes from the factory: it must make the same env
        mine, copied = spec_from_gymnasium(with_time_limit(env)), spec_from_gymnasium(probe)
        if dataclasses.replace(mine, env_id=copied.env_id) != copied:
            probe.close()
            raise ConfigError(f"the factory makes a different environment than the instance: {copied} against "
                              f"{mine}; expected copies of the instance (same spaces and time limit)")
    return from_factory, probe


def _remake_from_spec(instance: gym.Env, num_envs: int) -> Callable[[], gym.Env]:
    """A factory of copies of `instance` made from its gymnasium spec (id, make arguments and
    recorded wrappers). It raises ConfigError where the spec cannot remake it: at once for an
    unregistered instance, at the first copy (the constructor's probe) for a wrapper gymnasium
    cannot recreate."""
    spec = instance.spec
    name = spec.id if spec is not None else type(instance.unwrapped).__name__
    if spec is None or spec.id not in gym.registry:
        raise ConfigError(_instance_alone(name, num_envs))

    def remake() -> gym.Env:
        try:
            return gym.make(spec)
        except (ValueError, gym.error.Error) as error:  # a wrapper without RecordConstructorArgs, say
            raise ConfigError(f"{_instance_alone(name, num_envs)} (gymnasium cannot remake it from its spec: "
                              f"{error})") from None

    return remake


@contextlib.contextmanager
def copies_for(env: GymnasiumEnv, num_envs: int, or_itself: bool = False) -> Iterator[GymnasiumEnv]:
    """`env.with_num_envs(num_envs)` for a `with` block, closed after it when made here
    (gymnasium's vector envs are not closed when collected). With `or_itself`, `env` itself
    where it cannot be copied (an instance alone), its episodes then one after another. Any
    host env with `with_num_envs` and `close` (a `HostJaxEnv` too) works."""
    try:
        vec = env.with_num_envs(num_envs)
    except ConfigError:
        if not or_itself:
            raise
        vec = env
    try:
        yield vec
    finally:
        if vec is not env:
            vec.close()


def _instance_alone(name: str, num_envs: int) -> str:
    return (f"{name}: an environment instance runs as a single copy, but {num_envs} parallel environments "
            "were asked for; pass a factory that makes copies (the env class, or a function returning a new "
            "env: imitax.make(MyEnv, num_envs=N) or imitax.make(env, factory=make_env, num_envs=N)), "
            "a registered id, or num_envs=1")


def time_limit(env: gym.Env) -> int | None:
    """The episode step limit of `env`: its spec's, else that of a `TimeLimit` wrapper in it."""
    if env.spec is not None and env.spec.max_episode_steps:
        return int(env.spec.max_episode_steps)
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, gym.wrappers.TimeLimit):
            return int(layer._max_episode_steps)
        layer = layer.env
    return None


def with_time_limit(env: gym.Env) -> gym.Env:
    """`env`, wrapped in a `DEFAULT_TIME_LIMIT`-step `TimeLimit` when it has no limit."""
    return env if time_limit(env) is not None else gym.wrappers.TimeLimit(env, DEFAULT_TIME_LIMIT)


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
    return EnvSpec(name, flat_dim(obs_space.shape), action_space, time_limit(env) or DEFAULT_TIME_LIMIT)
