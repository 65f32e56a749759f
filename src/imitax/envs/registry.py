"""`imitax.make`: one call for both backends."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import CLASSIC_CONTROL, JaxEnv, make_gymnax
from imitax.errors import UnknownEnvError

GYMNAX_IDS = tuple(CLASSIC_CONTROL)
BACKENDS = ("jax", "gymnasium")

Env = JaxEnv | GymnasiumEnv


def make(env: str | gym.Env | Callable[[], gym.Env], backend: str = "jax", num_envs: int = 1, *,
         factory: Callable[[], gym.Env] | None = None, **kwargs: Any) -> Env:
    """Make an environment.

    Args:
        env: an id ("CartPole-v1"; "module:EnvId-v0" imports `module` first, which registers
            the env), or, always on the Gymnasium backend, a `gymnasium.Env` instance or a
            factory of them (the env class, or a zero-argument function returning a new env).
        backend: "jax" (gymnax, the whole loop compiles) or "gymnasium" (host loop, any env).
        num_envs: parallel copies for the Gymnasium backend (JAX envs are vmapped by callers).
            Training sets its own count (GAIL's PPO: 16), which needs an id or a factory.
        factory: with an instance, what makes the other copies.
        kwargs: gymnax `EnvParams` overrides (jax) or `gymnasium.make` keyword arguments.

    Raises:
        UnknownEnvError: the id is known to neither backend (the message lists the known
            ids), or the module named before ':' cannot be imported.
        ConfigError: an instance without a factory and `num_envs > 1`.
    """
    if not isinstance(env, str):
        return GymnasiumEnv(env, num_envs=num_envs, factory=factory, **kwargs)
    if backend not in BACKENDS:
        raise UnknownEnvError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "jax":
        if env not in GYMNAX_IDS:
            hint = " (it is a Gymnasium id: use backend='gymnasium')" if ":" in env or env in gym.registry else ""
            raise UnknownEnvError(f"unknown JAX environment id {env!r}{hint}; known JAX ids: {', '.join(GYMNAX_IDS)}")
        return make_gymnax(env, **kwargs)
    return GymnasiumEnv(gymnasium_id(env), num_envs=num_envs, **kwargs)


def gymnasium_id(env_id: str) -> str:
    """The registered Gymnasium id of `env_id`; for "module:EnvId" the module is imported
    first (registering the env, as `gymnasium.make` does) and "EnvId" returned.

    Raises:
        UnknownEnvError: the module cannot be imported, or the id is not registered.
    """
    module, _, plain_id = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except Exception as error:  # the user's module: ImportError, or whatever its import raised
            raise UnknownEnvError(
                f"cannot import module {module!r} named in environment id {env_id!r}: {type(error).__name__}: {error}; "
                "expected an importable module (on sys.path or PYTHONPATH) that registers "
                f"{plain_id!r} with gymnasium.register"
            ) from None
    if plain_id not in gym.registry:
        where = f"module {module!r} does not register it" if module else "not registered"
        raise UnknownEnvError(
            f"unknown environment id {env_id!r} ({where}); known ids include {', '.join(GYMNAX_IDS)} "
            f"and every registered Gymnasium id ({len(gym.registry)} registered, e.g. HalfCheetah-v5); "
            "for your own env, expected 'module:EnvId' where importing module registers EnvId"
        )
    return plain_id
