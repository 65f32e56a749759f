"""Environments: JAX (gymnax) and Gymnasium backends behind one `make`."""

from imitax.envs.gymnasium_env import GymnasiumEnv, HostStep
from imitax.envs.jax_env import EnvState, JaxEnv, Step
from imitax.envs.registry import GYMNAX_IDS, make
from imitax.envs.spec import Box, Discrete, EnvSpec

__all__ = ["Box", "Discrete", "EnvSpec", "EnvState", "GYMNAX_IDS", "GymnasiumEnv", "HostStep", "JaxEnv", "Step", "make"]
