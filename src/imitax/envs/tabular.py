"""Tabular MDPs with known dynamics, for exact inverse RL: gridworlds and random MDPs.

A `TabularMDP` is a pytree of arrays (transition tensor, initial distribution, state
features, true state reward) with a static finite horizon. Episodes last exactly
`horizon` steps and the reward `r(s_t)` is earned at t = 0..horizon-1; nothing
terminates early. Gridworlds keep their ASCII layout as static metadata so rewards can
be drawn back onto the grid.

Gridworld layout characters:

    .  free cell          #  wall (not a state)
    S  start (free)       G  goal (free, goal_reward per step spent there)
    X  pit (free, pit_reward per step spent there)

Actions are up, down, left, right, stay. A move into a wall or off the grid stays put.
With probability `slip` the executed action is drawn uniformly from all five actions
instead of the chosen one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Literal

import jax.numpy as jnp
import numpy as np
from flax import struct

from imitax.errors import ConfigError

ACTION_NAMES = ("up", "down", "left", "right", "stay")
_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))
_CELL_CHARS = ".#SGX"

DEFAULT_LAYOUT = (
    "S.......",
    ".###.X..",
    "...#....",
    ".X.#.##.",
    "...#..#.",
    ".###..#.",
    "......#G",
    "..X.....",
)

_PROBABILITY_TOLERANCE = 1e-4


@struct.dataclass
class TabularMDP:
    """A finite-horizon MDP with `S` states, `A` actions and `F` state features.

    Attributes:
        transitions: f32[S, A, S], P(s' | s, a); every row sums to 1.
        initial_dist: f32[S], the distribution of the first state.
        features: f32[S, F], what a learned reward sees (one-hot states by default).
        true_reward: f32[S], the reward earned in each state at every step.
        horizon: steps per episode (static).
        layout: the gridworld's ASCII rows (walls included), or None for non-grid MDPs.
            States are the non-wall cells in row-major order.
    """

    transitions: jnp.ndarray
    initial_dist: jnp.ndarray
    features: jnp.ndarray
    true_reward: jnp.ndarray
    horizon: int = struct.field(pytree_node=False)
    layout: tuple[str, ...] | None = struct.field(pytree_node=False, default=None)

    @property
    def num_states(self) -> int:
        return int(self.transitions.shape[0])

    @property
    def num_actions(self) -> int:
        return int(self.transitions.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def grid_shape(self) -> tuple[int, int] | None:
        return None if self.layout is None else (len(self.layout), len(self.layout[0]))

    @property
    def cells(self) -> list[tuple[int, int]]:
        """(row, col) of each state, in state order (gridworlds only)."""
        if self.layout is None:
            raise ConfigError("this MDP is not a gridworld; it has no cells")
        return _free_cells(self.layout)

    def on_grid(self, state_values: Any) -> np.ndarray:
        """f[S] per-state values -> f[rows, cols] on the grid, NaN on walls (gridworlds only)."""
        values = np.asarray(state_values, np.float64)
        if values.shape != (self.num_states,):
            raise ConfigError(f"expected one value per state, shape ({self.num_states},); got {values.shape}")
        grid = np.full(self.grid_shape, np.nan)  # type: ignore[arg-type]
        for state, (row, col) in enumerate(self.cells):
            grid[row, col] = values[state]
        return grid

    def with_features(self, features: Any) -> TabularMDP:
        """This MDP with other state features f32[S, F] (e.g. for a reward that is not one-hot)."""
        features = np.asarray(features, np.float32)
        if features.ndim != 2 or features.shape[0] != self.num_states:
            raise ConfigError(f"features must have shape [num_states={self.num_states}, num_features]; "
                              f"got {features.shape}")
        if not np.isfinite(features).all():
            raise ConfigError("features hold NaN or infinite values; expected finite numbers")
        return self.replace(features=jnp.asarray(features))

    def describe(self) -> dict[str, Any]:
        """JSON-able summary (sizes, and the layout for gridworlds)."""
        out: dict[str, Any] = {"num_states": self.num_states, "num_actions": self.num_actions,
                               "num_features": self.num_features, "horizon": self.horizon}
        if self.layout is not None:
            out["layout"] = list(self.layout)
        return out


def tabular_mdp(transitions: Any, initial_dist: Any, horizon: int, true_reward: Any,
                features: Any | None = None, layout: Sequence[str] | None = None) -> TabularMDP:
    """A validated `TabularMDP` from array-likes (features default to one-hot states).

    Raises:
        ConfigError: shapes that disagree, negative or non-finite probabilities, rows of
            `transitions` or `initial_dist` that do not sum to 1, or a horizon below 1.
    """
    transitions = np.asarray(transitions, np.float64)
    initial_dist = np.asarray(initial_dist, np.float64)
    true_reward = np.asarray(true_reward, np.float64)
    if transitions.ndim != 3 or transitions.shape[0] != transitions.shape[2] or transitions.shape[0] < 1:
        raise ConfigError(f"transitions must have shape [S, A, S]; got {transitions.shape}")
    num_states = transitions.shape[0]
    if initial_dist.shape != (num_states,):
        raise ConfigError(f"initial_dist must have shape ({num_states},); got {initial_dist.shape}")
    if true_reward.shape != (num_states,):
        raise ConfigError(f"true_reward must have shape ({num_states},) (one reward per state); got {true_reward.shape}")
    _check_distribution(transitions, "transitions[s, a, :]")
    _check_distribution(initial_dist, "initial_dist")
    if not np.isfinite(true_reward).all():
        raise ConfigError("true_reward holds NaN or infinite values; expected finite numbers")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ConfigError(f"horizon must be an integer >= 1; got {horizon!r}")
    mdp = TabularMDP(jnp.asarray(transitions, jnp.float32), jnp.asarray(initial_dist, jnp.float32),
                     jnp.eye(num_states, dtype=jnp.float32), jnp.asarray(true_reward, jnp.float32), int(horizon),
                     None if layout is None else tuple(layout))
    return mdp if features is None else mdp.with_features(features)


def _check_distribution(probabilities: np.ndarray, name: str) -> None:
    """Non-negative, finite, summing to 1 over the last axis."""
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise ConfigError(f"{name} must hold finite probabilities >= 0")
    sums = probabilities.sum(axis=-1)
    worst = np.unravel_index(np.argmax(np.abs(sums - 1.0)), sums.shape) if sums.ndim else ()
    if np.abs(sums - 1.0).max(initial=0.0) > _PROBABILITY_TOLERANCE:
        where = f" at index {tuple(int(i) for i in worst)}" if sums.ndim else ""
        raise ConfigError(f"{name} must sum to 1; sums to {float(sums[worst]):.6f}{where}")


# ---------------------------------------------------------------------------- gridworlds


@dataclasses.dataclass(frozen=True)
class GridworldConfig:
    """A gridworld: an ASCII layout (or an open grid of `size`), walls, slip, horizon, reward."""

    layout: tuple[str, ...] = ()
    """ASCII rows: . free, # wall, S start, G goal, X pit (empty: the 8x8 default map, or an open grid of --grid.size)"""
    size: tuple[int, int] | None = None
    """rows and columns of an open grid (start top-left, goal bottom-right); instead of a layout"""
    walls: tuple[tuple[int, int], ...] = ()
    """extra wall cells as row col pairs, added to the layout"""
    slip: float = 0.1
    """probability that the executed action is uniform over all five instead of the chosen one"""
    horizon: int | None = None
    """steps per episode (default: 2 x (rows + cols))"""
    reward: Literal["map", "random"] = "map"
    """map: goal_reward on G, pit_reward on X, step_reward elsewhere; random: N(0, 1) per cell from reward_seed"""
    goal_reward: float = 1.0
    pit_reward: float = -1.0
    step_reward: float = 0.0
    reward_seed: int = 0
    """seed of the random reward"""
    random_start: bool = False
    """start uniformly on any free cell instead of the S cells"""

    def build(self) -> TabularMDP:
        return gridworld(**dataclasses.asdict(self))


def gridworld(layout: Sequence[str] = (), size: tuple[int, int] | None = None,
              walls: Sequence[tuple[int, int]] = (), slip: float = 0.1, horizon: int | None = None,
              reward: str = "map", goal_reward: float = 1.0, pit_reward: float = -1.0, step_reward: float = 0.0,
              reward_seed: int = 0, random_start: bool = False) -> TabularMDP:
    """A gridworld MDP (see the module docstring for the layout and the dynamics).

    The episode starts uniformly on the S cells, or on any free cell when there is none
    or `random_start` is set.

    Raises:
        ConfigError: both `layout` and `size`, ragged rows, unknown characters, walls
            outside the grid or on a start/goal cell, no free cell, slip outside [0, 1),
            a horizon below 1, an unknown reward kind, or a reward that is not finite.
    """
    rows = _layout_rows(layout, size)
    rows = _add_walls(rows, walls)
    if not 0.0 <= slip < 1.0:
        raise ConfigError(f"slip must be in [0, 1); got {slip}")
    if reward not in ("map", "random"):
        raise ConfigError(f"reward must be 'map' or 'random'; got {reward!r}")
    for name, value in (("goal_reward", goal_reward), ("pit_reward", pit_reward), ("step_reward", step_reward)):
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number; got {value}")
    height, width = len(rows), len(rows[0])
    horizon = 2 * (height + width) if horizon is None else horizon
    cells = _free_cells(rows)
    index = {cell: state for state, cell in enumerate(cells)}
    num_states, num_actions = len(cells), len(_MOVES)

    intended = np.zeros((num_states, num_actions, num_states))
    for state, (row, col) in enumerate(cells):
        for action, (d_row, d_col) in enumerate(_MOVES):
            intended[state, action, index.get((row + d_row, col + d_col), state)] = 1.0
    transitions = (1.0 - slip) * intended + slip * intended.mean(axis=1, keepdims=True)

    kinds = [rows[row][col] for row, col in cells]
    starts = np.array([kind == "S" for kind in kinds], np.float64)
    initial_dist = starts / starts.sum() if starts.any() and not random_start else np.full(num_states, 1.0 / num_states)
    if reward == "map":
        by_kind = {"G": goal_reward, "X": pit_reward}
        true_reward = np.array([by_kind.get(kind, step_reward) for kind in kinds])
    else:
        true_reward = np.random.default_rng(reward_seed).standard_normal(num_states)
    return tabular_mdp(transitions, initial_dist, horizon, true_reward, layout=rows)


def _layout_rows(layout: Sequence[str], size: tuple[int, int] | None) -> tuple[str, ...]:
    """The validated ASCII rows: `layout`, an open grid of `size`, or the default map."""
    if layout and size is not None:
        raise ConfigError("give a gridworld layout or a size, not both")
    if size is not None:
        if len(size) != 2 or min(size) < 1 or size[0] * size[1] < 2:
            raise ConfigError(f"gridworld size must be (rows, cols) with rows, cols >= 1 and at least 2 cells; got {size}")
        height, width = size
        grid = [["."] * width for _ in range(height)]
        grid[0][0], grid[-1][-1] = "S", "G"
        return tuple("".join(row) for row in grid)
    if isinstance(layout, str):
        raise ConfigError("gridworld layout must be a list of row strings, not one string")
    rows = tuple(layout) if layout else DEFAULT_LAYOUT
    if any(len(row) != len(rows[0]) for row in rows) or not rows[0]:
        raise ConfigError(f"gridworld layout rows must all have the same, non-zero length; got lengths "
                          f"{[len(row) for row in rows]}")
    for row_index, row in enumerate(rows):
        for col_index, char in enumerate(row):
            if char not in _CELL_CHARS:
                raise ConfigError(f"gridworld layout: unknown character {char!r} at row {row_index}, column {col_index}; "
                                  f"expected one of {' '.join(_CELL_CHARS)} (free, wall, start, goal, pit)")
    if not _free_cells(rows):
        raise ConfigError("gridworld layout has no free cell; expected at least one cell that is not a wall")
    return rows


def _add_walls(rows: tuple[str, ...], walls: Sequence[tuple[int, int]]) -> tuple[str, ...]:
    grid = [list(row) for row in rows]
    height, width = len(grid), len(grid[0])
    for wall in walls:
        if len(wall) != 2:
            raise ConfigError(f"a wall is a (row, col) pair; got {wall}")
        row, col = wall
        if not (0 <= row < height and 0 <= col < width):
            raise ConfigError(f"wall ({row}, {col}) is outside the {height}x{width} grid; expected 0 <= row < {height} "
                              f"and 0 <= col < {width}")
        if grid[row][col] in "SG":
            what = "start" if grid[row][col] == "S" else "goal"
            raise ConfigError(f"wall ({row}, {col}) is on the {what} cell; a {what} cannot be a wall")
        grid[row][col] = "#"
    rows = tuple("".join(row) for row in grid)
    if not _free_cells(rows):
        raise ConfigError("the walls cover every cell; expected at least one free cell")
    return rows


def _free_cells(rows: Sequence[str]) -> list[tuple[int, int]]:
    return [(row, col) for row, line in enumerate(rows) for col, char in enumerate(line) if char != "#"]


# ---------------------------------------------------------------------------- random MDPs


@dataclasses.dataclass(frozen=True)
class RandomMDPConfig:
    """A random MDP: sparse random dynamics and a true reward linear in random features."""

    num_states: int = 50
    num_actions: int = 4
    branching: int = 5
    """next states each (state, action) can reach, drawn at random"""
    num_features: int = 8
    """Gaussian state features; the true reward is linear in them"""
    horizon: int = 20
    seed: int = 0
    """seed of the dynamics, the features and the reward"""

    def build(self) -> TabularMDP:
        return random_mdp(**dataclasses.asdict(self))


def random_mdp(num_states: int = 50, num_actions: int = 4, branching: int = 5, num_features: int = 8,
               horizon: int = 20, seed: int = 0) -> TabularMDP:
    """A random MDP: each (s, a) moves to `branching` random states with Dirichlet(1)
    probabilities; features ~ N(0, 1); true reward = features @ w with w ~ N(0, 1); the
    first state is uniform.

    Raises:
        ConfigError: sizes below 1 (states below 2), or `branching` above `num_states`.
    """
    if num_states < 2:
        raise ConfigError(f"num_states must be >= 2; got {num_states}")
    for name, value in (("num_actions", num_actions), ("num_features", num_features), ("horizon", horizon),
                        ("branching", branching)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1; got {value}")
    if branching > num_states:
        raise ConfigError(f"branching ({branching}) must be <= num_states ({num_states})")
    rng = np.random.default_rng(seed)
    transitions = np.zeros((num_states, num_actions, num_states))
    for state in range(num_states):
        for action in range(num_actions):
            successors = rng.choice(num_states, size=branching, replace=False)
            transitions[state, action, successors] = rng.dirichlet(np.ones(branching))
    features = rng.standard_normal((num_states, num_features))
    true_reward = features @ rng.standard_normal(num_features)
    return tabular_mdp(transitions, np.full(num_states, 1.0 / num_states), horizon, true_reward, features=features)
