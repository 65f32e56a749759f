"""Checks on demonstrations at the edges of the library (before a save, after a load).

Every failure raises `DatasetError` with one message that names the source (a dataset id
or a file), the episode index, the field and what was expected versus found, e.g.

    cartpole/expert-v0: episode 3, actions: expected integer actions for Discrete(2), found float32 ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import numpy as np

from imitax.data.types import Trajectory
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import DatasetError

BOUNDS_TOLERANCE = 1e-5  # Box actions may exceed their bounds by this much (float rounding)


def validate_trajectories(trajectories: Sequence[Trajectory], spec: EnvSpec, *, source: str) -> None:
    """Check that `trajectories` are well-formed episodes of the environment `spec`.

    Per episode of `n` steps: `obs: f32[n + 1, obs_dim]` finite; `actions: i32[n]` in
    `[0, num_actions)` (Discrete) or `f32[n, action_dim]` finite and within the bounds (Box);
    `rewards: f32[n]` finite; `n >= 1`; `terminated` a bool.

    Raises:
        DatasetError: naming `source`, the episode, the field and expected versus found.
    """
    if len(trajectories) == 0:
        raise DatasetError(f"{source}: no episodes (empty trajectory list); expected at least one episode")
    for episode, trajectory in enumerate(trajectories):
        _validate_episode(trajectory, spec, source=source, episode=episode)


def validate_env_id(recorded_env_id: str | None, spec: EnvSpec, *, source: str) -> None:
    """Check that data recorded on `recorded_env_id` (None: unknown) is for `spec.env_id`."""
    if recorded_env_id is not None and recorded_env_id != spec.env_id:
        raise DatasetError(
            f"{source}: data from another environment: the dataset was recorded on {recorded_env_id!r}, "
            f"expected data for {spec.env_id!r}"
        )


def episode_terminated(terminations: np.ndarray, truncations: np.ndarray, *, source: str, episode: int) -> bool:
    """Whether an episode ended in a terminal state, from its per-step flags.

    Args:
        terminations: bool[n], True only at the last step, when the episode reached a terminal state.
        truncations: bool[n], True only at the last step, when a time limit cut the episode.

    An episode with neither flag set at its end (collection stopped) counts as not terminated.

    Raises:
        DatasetError: flags of the wrong shape or type, a flag set before the last step, or
            both flags set at the last step.
    """
    length = None
    flags = {}
    for field, values in (("terminations", terminations), ("truncations", truncations)):
        flags[field] = _as_bool_flags(np.asarray(values), source=source, episode=episode, field=field)
        length = flags[field].shape[0] if length is None else length
        if flags[field].shape[0] != length:
            _fail(source, episode, field, f"expected shape [{length}] like terminations, found {_shape(flags[field])}")
    for field, values in flags.items():
        early = np.flatnonzero(values[:-1])
        if early.size:
            _fail(source, episode, field,
                  f"step {int(early[0])} of {length} is marked True but is not the last step; "
                  "an episode must end at its first termination or truncation")
    if length and flags["terminations"][-1] and flags["truncations"][-1]:
        _fail(source, episode, "terminations",
              "the last step is marked both terminated and truncated; expected at most one of them")
    return bool(length and flags["terminations"][-1])


def _validate_episode(trajectory: Trajectory, spec: EnvSpec, *, source: str, episode: int) -> None:
    actions = np.asarray(trajectory.actions)
    if actions.ndim == 0:
        _fail(source, episode, "actions", f"expected an array with one row per step, found a scalar {actions!r}")
    length = actions.shape[0]
    if length == 0:
        _fail(source, episode, "actions", "zero-length episode (no steps); expected every episode to have at least one step")
    _check_observations(np.asarray(trajectory.obs), spec, length, source=source, episode=episode)
    if isinstance(spec.action_space, Discrete):
        _check_discrete_actions(actions, spec.action_space, source=source, episode=episode)
    else:
        _check_box_actions(actions, spec.action_space, source=source, episode=episode)
    _check_rewards(np.asarray(trajectory.rewards), length, source=source, episode=episode)
    if not isinstance(trajectory.terminated, (bool, np.bool_)):
        _fail(source, episode, "terminated", f"expected a bool, found {type(trajectory.terminated).__name__}")


def _check_observations(obs: np.ndarray, spec: EnvSpec, length: int, *, source: str, episode: int) -> None:
    """obs: f32[length + 1, obs_dim], numeric and finite."""
    if obs.dtype.kind not in "iuf":
        _fail(source, episode, "observations", f"expected numeric observations, found dtype {obs.dtype}")
    expected = (length + 1, spec.obs_dim)
    if obs.shape != expected:
        size_note = ""
        if obs.ndim == 2 and obs.shape[1] != spec.obs_dim:
            size_note = f" (wrong observation size: {obs.shape[1]}, the spec of {spec.env_id} says obs_dim={spec.obs_dim})"
        _fail(source, episode, "observations",
              f"expected shape [n + 1, obs_dim] = {list(expected)} for {length} steps, found {_shape(obs)}{size_note}")
    _check_finite(obs, source=source, episode=episode, field="observations")


def _check_discrete_actions(actions: np.ndarray, space: Discrete, *, source: str, episode: int) -> None:
    """actions: integer[n] in [0, space.n)."""
    if actions.dtype.kind not in "iu":
        _fail(source, episode, "actions",
              f"expected integer actions for Discrete({space.n}), found {actions.dtype} data of shape "
              f"{_shape(actions)} (continuous Box data for a Discrete spec?)")
    if actions.ndim != 1:
        _fail(source, episode, "actions",
              f"expected shape [n] = [{actions.shape[0]}] for Discrete({space.n}), found {_shape(actions)}")
    bad = np.flatnonzero((actions < 0) | (actions >= space.n))
    if bad.size:
        step = int(bad[0])
        _fail(source, episode, "actions",
              f"action {int(actions[step])} at step {step} is out of bounds: expected values in [0, {space.n})")


def _check_box_actions(actions: np.ndarray, space: Box, *, source: str, episode: int) -> None:
    """actions: f32[n, action_dim], finite and within [low, high] (up to BOUNDS_TOLERANCE)."""
    dim = space.shape[0]
    expected = (actions.shape[0], dim)
    if actions.dtype.kind != "f":
        _fail(source, episode, "actions",
              f"expected float actions of shape {list(expected)} for Box({dim}), found {actions.dtype} data of "
              f"shape {_shape(actions)} (integer Discrete data for a Box spec?)")
    if actions.shape != expected:
        _fail(source, episode, "actions", f"expected shape [n, action_dim] = {list(expected)}, found {_shape(actions)}")
    _check_finite(actions, source=source, episode=episode, field="actions")
    low, high = space.low_array.astype(np.float64), space.high_array.astype(np.float64)
    slack_low = BOUNDS_TOLERANCE * np.maximum(1.0, np.abs(low))
    slack_high = BOUNDS_TOLERANCE * np.maximum(1.0, np.abs(high))
    outside = (actions < low - slack_low) | (actions > high + slack_high)
    if outside.any():
        step, dim_index = (int(i) for i in np.argwhere(outside)[0])
        _fail(source, episode, "actions",
              f"action {float(actions[step, dim_index])!r} at step {step}, dimension {dim_index} is out of bounds: "
              f"expected values in [{low[dim_index]}, {high[dim_index]}]")


def _check_rewards(rewards: np.ndarray, length: int, *, source: str, episode: int) -> None:
    """rewards: f32[length], finite."""
    if rewards.dtype.kind not in "iuf":
        _fail(source, episode, "rewards", f"expected numeric rewards, found dtype {rewards.dtype}")
    if rewards.shape != (length,):
        _fail(source, episode, "rewards", f"expected shape [n] = [{length}], found {_shape(rewards)}")
    _check_finite(rewards, source=source, episode=episode, field="rewards")


def _check_finite(values: np.ndarray, *, source: str, episode: int, field: str) -> None:
    """Fail on the first NaN or infinite entry of `values: [n, ...]`, naming its step."""
    if values.dtype.kind != "f":
        return
    finite = np.isfinite(values).reshape(values.shape[0], -1).all(axis=1)
    if not finite.all():
        step = int(np.flatnonzero(~finite)[0])
        row = values[step]
        kind = "NaN" if np.isnan(row).any() else "inf"
        _fail(source, episode, field, f"contains {kind} at step {step}; expected finite values")


def _as_bool_flags(values: np.ndarray, *, source: str, episode: int, field: str) -> np.ndarray:
    """Per-step flags as bool[n]: bools, or integers that are all 0 or 1."""
    if values.ndim != 1:
        _fail(source, episode, field, f"expected a flat array of per-step flags, found shape {_shape(values)}")
    if values.dtype == np.bool_:
        return values
    if values.dtype.kind in "iu" and np.isin(values, (0, 1)).all():
        return values.astype(bool)
    _fail(source, episode, field, f"expected boolean flags (or 0/1 integers), found dtype {values.dtype}")


def _shape(values: np.ndarray) -> str:
    return str(list(values.shape))


def _fail(source: str, episode: int, field: str, problem: str) -> NoReturn:
    raise DatasetError(f"{source}: episode {episode}, {field}: {problem}")
