"""JAX environments: a thin functional layer over gymnax with episode statistics.

`JaxEnv.step` auto-resets and returns the true next observation beside the reset one,
so learners can tell termination (no bootstrap) from truncation (bootstrap from the
final observation). Everything here is pure and jit/vmap friendly.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from imitax.envs.spec import Box, Discrete, EnvSpec, box_bounds, executed_actions, flat_dim


@struct.dataclass
class EnvState:
    """Batched or single environment state plus the running episode statistics."""

    inner: Any
    episode_return: jnp.ndarray  # f32[], return of the episode so far
    episode_length: jnp.ndarray  # i32[]


class Step(NamedTuple):
    """Result of one environment step (leading batch dims when vmapped).

    obs is the observation to act on next (the reset one after an episode ends);
    next_obs is the true observation reached by this step. On the step that ends an
    episode, `episode_return`/`episode_length` hold that episode's totals.
    """

    obs: jnp.ndarray
    state: EnvState
    reward: jnp.ndarray
    terminated: jnp.ndarray
    truncated: jnp.ndarray
    next_obs: jnp.ndarray
    episode_return: jnp.ndarray
    episode_length: jnp.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class JaxEnv:
    """A gymnax environment with fixed parameters.

    Attributes:
        spec: spaces and episode length.
        env: the gymnax environment object.
        params: its `EnvParams` (change them with `with_params`, e.g. gravity or mass).
    """

    spec: EnvSpec
    env: Any
    params: Any
    backend: str = "jax"

    def with_params(self, **changes: Any) -> JaxEnv:
        """The same environment with some dynamics parameters changed."""
        return dataclasses.replace(self, params=self.params.replace(**changes))

    def reset(self, key: jax.Array) -> tuple[jnp.ndarray, EnvState]:
        """obs: f32[obs_dim]."""
        obs, inner = self.env.reset(key, self.params)
        state = EnvState(inner, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        return _flat(obs), state

    def step(self, key: jax.Array, state: EnvState, action: jnp.ndarray) -> Step:
        """One step with auto-reset. `action`: i32[] or f32[action_dim] (clipped here)."""
        env_action = self._to_env_action(action)
        obs, inner, reward, terminated, truncated, info = self.env.step(key, state.inner, env_action, self.params)
        reward = jnp.reshape(reward, ()).astype(jnp.float32)
        done = jnp.logical_or(terminated, truncated)
        episode_return = state.episode_return + reward
        episode_length = state.episode_length + 1
        new_state = EnvState(
            inner,
            jnp.where(done, 0.0, episode_return),
            jnp.where(done, 0, episode_length),
        )
        return Step(
            obs=_flat(obs),
            state=new_state,
            reward=reward,
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.logical_and(jnp.asarray(truncated, bool), ~jnp.asarray(terminated, bool)),
            next_obs=_flat(info["final_observation"]),
            episode_return=episode_return,
            episode_length=episode_length,
        )

    def reset_batch(self, key: jax.Array, num_envs: int) -> tuple[jnp.ndarray, EnvState]:
        """obs: f32[num_envs, obs_dim] (one compiled program when called eagerly)."""
        return jax.jit(lambda key: jax.vmap(self.reset)(jax.random.split(key, num_envs)))(key)

    def step_batch(self, key: jax.Array, state: EnvState, actions: jnp.ndarray) -> Step:
        num_envs = actions.shape[0]
        return jax.vmap(self.step)(jax.random.split(key, num_envs), state, actions)

    def _to_env_action(self, action: jnp.ndarray) -> jnp.ndarray:
        executed = executed_actions(self.spec.action_space, action)
        return executed if isinstance(self.spec.action_space, Discrete) else executed.reshape(self._native_action_shape)

    @property
    def _native_action_shape(self) -> tuple[int, ...]:
        return tuple(self.env.action_space(self.params).shape)


def _flat(obs: jnp.ndarray) -> jnp.ndarray:
    return jnp.reshape(obs, (-1,)).astype(jnp.float32)


# The gymnax classes of the JAX ids (gymnax.environments.classic_control)
CLASSIC_CONTROL = {"CartPole-v1": "CartPole", "Pendulum-v1": "Pendulum", "Acrobot-v1": "Acrobot",
                   "MountainCar-v0": "MountainCar", "MountainCarContinuous-v0": "ContinuousMountainCar"}


@functools.cache
def _gymnax_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """gymnax's classic_control and spaces modules, without gymnax's package __init__ when it
    is not imported yet. That __init__ imports every gymnax environment and, for their
    renderers, matplotlib's pyplot and seaborn (with scipy.stats and pandas): 1.2-1.8 s of
    every command on a 2-core CPU, for five small modules. So they are imported under
    stand-in parent packages that are removed again right after: a later `import gymnax` runs
    gymnax's own __init__, which finds these modules already imported and uses them."""
    names = ("gymnax.environments.classic_control", "gymnax.environments.spaces")
    if "gymnax" in sys.modules:
        return tuple(importlib.import_module(name) for name in names)  # type: ignore[return-value]
    root = Path(importlib.util.find_spec("gymnax").submodule_search_locations[0])
    stand_ins = {}
    for package, folder in (("gymnax", root), ("gymnax.environments", root / "environments")):
        module = types.ModuleType(package)
        module.__path__ = [str(folder)]
        stand_ins[package] = sys.modules[package] = module
    try:
        return tuple(importlib.import_module(name) for name in names)  # type: ignore[return-value]
    finally:
        for package, module in stand_ins.items():
            if sys.modules.get(package) is module:
                del sys.modules[package]


def make_gymnax(env_id: str, **param_overrides: Any) -> JaxEnv:
    """A `JaxEnv` for a gymnax classic-control id (`CLASSIC_CONTROL`), with optional `EnvParams` overrides."""
    classic_control, _ = _gymnax_modules()
    env = getattr(classic_control, CLASSIC_CONTROL[env_id])()
    params = env.default_params
    if param_overrides:
        params = params.replace(**param_overrides)
    spec = EnvSpec(
        env_id=env_id,
        obs_dim=flat_dim(tuple(env.observation_space(params).shape)),
        action_space=_action_space(env.action_space(params)),
        max_episode_steps=int(params.max_steps_in_episode),
    )
    return JaxEnv(spec, env, params)


def _action_space(space: Any) -> Discrete | Box:
    _, spaces = _gymnax_modules()

    if isinstance(space, spaces.Discrete):
        return Discrete(int(space.n))
    if isinstance(space, spaces.Box):
        shape = tuple(space.shape) or (1,)
        return box_bounds(space.low, space.high, shape)
    raise TypeError(f"unsupported gymnax action space {space!r}")
