"""`imitax.make`: one call for both backends."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv, make_gymnax
from imitax.errors import UnknownEnvError

GYMNAX_IDS = ("CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0")
BACKENDS = ("jax", "gymnasium")

Env = JaxEnv | GymnasiumEnv


def make(env: str | gym.Env, backend: str = "jax", num_envs: int = 1, **kwargs: Any) -> Env:
    """Make an environment.

    Args:
        env: an id ("CartPole-v1") or a `gymnasium.Env` instance (always the Gymnasium backend).
        backend: "jax" (gymnax, the whole loop compiles) or "gymnasium" (host loop, any env).
        num_envs: parallel copies for the Gymnasium backend (JAX envs are vmapped by callers).
        kwargs: gymnax `EnvParams` overrides (jax) or `gymnasium.make` keyword arguments.

    Raises:
        UnknownEnvError: the id is known to neither backend; the message lists the known ids.
    """
    if isinstance(env, gym.Env):
        return GymnasiumEnv(env, num_envs=1)
    if backend not in BACKENDS:
        raise UnknownEnvError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "jax":
        if env not in GYMNAX_IDS:
            hint = " (it exists in Gymnasium: use backend='gymnasium')" if env in gym.registry else ""
            raise UnknownEnvError(f"unknown JAX environment id {env!r}{hint}; known JAX ids: {', '.join(GYMNAX_IDS)}")
        return make_gymnax(env, **kwargs)
    if env not in gym.registry:
        raise UnknownEnvError(
            f"unknown environment id {env!r}; known ids include {', '.join(GYMNAX_IDS)} "
            f"and every registered Gymnasium id ({len(gym.registry)} registered, e.g. HalfCheetah-v5)"
        )
    return GymnasiumEnv(env, num_envs=num_envs, **kwargs)
