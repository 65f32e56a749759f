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

from imitax.errors import ImitaxError, SpaceError
from imitax.schema import Fields


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


def space_from_fields(fields: Fields) -> ActionSpace:
    """The action space `to_dict` wrote, read through its schema: {"type": "Discrete", "n": int >= 1}
    or {"type": "Box", "low": [number, ...], "high": [number, ...]} (infinite bounds allowed)."""
    if fields.text("type", choices=("Discrete", "Box")) == "Discrete":
        return Discrete(fields.integer("n", low=1))
    low, high = fields.numbers("low", finite=False), fields.numbers("high", finite=False)
    if not low or len(low) != len(high) or not all(lo <= hi for lo, hi in zip(low, high)):
        fields.fail("high", list(high), f"as many bounds as low (at least one; low has {len(low)}), each >= its low")
    return Box(low, high)


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
    def from_dict(cls, data: Any, source: Any = "env_spec", error: type[ImitaxError] = SpaceError) -> EnvSpec:
        """The spec `to_dict` wrote; `error` (naming `source` and the field) when it does not fit."""
        return cls.from_fields(Fields(data, source, error))

    @classmethod
    def from_fields(cls, fields: Fields) -> EnvSpec:
        """The spec `to_dict` wrote, read through its schema: env_id a string, obs_dim and
        max_episode_steps integers >= 1, action_space (see `space_from_fields`)."""
        return cls(env_id=fields.text("env_id"), obs_dim=fields.integer("obs_dim", low=1),
                   action_space=space_from_fields(fields.section("action_space")),
                   max_episode_steps=fields.integer("max_episode_steps", low=1))


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
