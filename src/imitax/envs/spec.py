"""Environment description shared by every layer: spaces and episode length.

Spaces are frozen dataclasses of plain tuples so a spec is hashable (it can be a
static argument of `jax.jit`) and round-trips through JSON.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from imitax.errors import SpaceError


@dataclasses.dataclass(frozen=True)
class Discrete:
    """`n` actions, encoded as int32 scalars 0..n-1."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.int32)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "Discrete", "n": self.n}


@dataclasses.dataclass(frozen=True)
class Box:
    """A flat continuous space `f32[dim]` with per-dimension bounds."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.low),)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def low_array(self) -> np.ndarray:
        return np.asarray(self.low, np.float32)

    @property
    def high_array(self) -> np.ndarray:
        return np.asarray(self.high, np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "Box", "low": list(self.low), "high": list(self.high)}


ActionSpace = Discrete | Box


def space_from_dict(data: dict[str, Any]) -> ActionSpace:
    kind = data.get("type")
    if kind == "Discrete":
        space = Discrete(int(data["n"]))
        if space.n < 1:
            raise SpaceError(f"Discrete({space.n}) has no actions; expected n >= 1")
        return space
    if kind == "Box":
        low, high = tuple(float(x) for x in data["low"]), tuple(float(x) for x in data["high"])
        if not low or len(low) != len(high) or not all(lo <= hi for lo, hi in zip(low, high)):
            raise SpaceError(f"Box bounds low={list(low)}, high={list(high)}; expected equal, non-zero lengths "
                             "and low <= high")
        return Box(low, high)
    raise SpaceError(f"unknown action space type {kind!r}; expected 'Discrete' or 'Box'")


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What an algorithm needs to know about an environment.

    Attributes:
        env_id: the id the environment was made from (e.g. "CartPole-v1").
        obs_dim: observations are `f32[obs_dim]` (multi-dimensional Box observations are
            flattened by the Gymnasium adapter).
        action_space: `Discrete(n)` or `Box(low, high)`.
        max_episode_steps: the time limit; episodes are truncated there.
    """

    env_id: str
    obs_dim: int
    action_space: ActionSpace
    max_episode_steps: int

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def action_dim(self) -> int:
        """Number of logits (Discrete) or action dimensions (Box)."""
        space = self.action_space
        return space.n if isinstance(space, Discrete) else space.shape[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "obs_dim": self.obs_dim,
            "action_space": self.action_space.to_dict(),
            "max_episode_steps": self.max_episode_steps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvSpec:
        """The spec `to_dict` wrote. Raises SpaceError (or KeyError/TypeError/ValueError) when malformed."""
        spec = cls(
            env_id=str(data["env_id"]),
            obs_dim=int(data["obs_dim"]),
            action_space=space_from_dict(data["action_space"]),
            max_episode_steps=int(data["max_episode_steps"]),
        )
        if spec.obs_dim < 1 or spec.max_episode_steps < 1:
            raise SpaceError(f"{spec.env_id}: obs_dim {spec.obs_dim} and max_episode_steps {spec.max_episode_steps}; "
                             "expected both >= 1")
        return spec


def executed_actions(space: ActionSpace, actions: jnp.ndarray) -> jnp.ndarray:
    """The actions an environment executes: Box actions clipped to the bounds, Discrete as int32."""
    if isinstance(space, Box):
        return jnp.clip(actions, jnp.asarray(space.low), jnp.asarray(space.high))
    return jnp.asarray(actions, jnp.int32)


def box_bounds(low: Any, high: Any, shape: tuple[int, ...]) -> Box:
    """A `Box` from array-like bounds, broadcast to `shape` and flattened."""
    low_arr = np.broadcast_to(np.asarray(low, np.float64), shape).reshape(-1)
    high_arr = np.broadcast_to(np.asarray(high, np.float64), shape).reshape(-1)
    return Box(tuple(float(x) for x in low_arr), tuple(float(x) for x in high_arr))


def flat_dim(shape: tuple[int, ...]) -> int:
    return int(math.prod(shape)) if shape else 1
