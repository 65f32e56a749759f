"""Observation features fixed for a whole episode (a goal, a target, an outside temperature):
what imitation from a few demonstrations, by a discriminator or by expert labels, cannot handle.

A feature that the environment draws at reset and that no action changes takes one value in
each demonstration. With one or two demonstrations the expert's data holds one or two values of
it and the agent's data every value, so a discriminator tells them apart by that feature alone
and its reward says nothing about behaviour (the fresh Thermostat task from 1 demo: GAIL -0.11,
AIRL -1.30; with the feature fixed, 0.93 and 0.98; the point mass and Reacher-v5 likewise; from
10 demos all >= 0.92). `context_features` finds such features so the commands can say so
(`context_warning`), and GAIL, DAC and AIRL hide them from their discriminator by default
(`disc_ignore_obs` None; `episodes_of` recovers the episodes from flattened transitions).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import jax
import numpy as np

from imitax.data.types import Trajectory, Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv

# Below this many demonstrations a per-episode feature is flagged (from 10, every task measured
# imitated; from 1, none did).
FEW_EPISODES = 5
_RESETS = 16


def per_episode_context(trajectories: Sequence[Trajectory], first_obs: np.ndarray) -> list[int]:
    """Indices of the observation features that stay constant within every demonstration
    (each `obs` f32[length + 1, obs_dim]) yet differ between the environment's first
    observations `first_obs` f32[n, obs_dim] (drawn at reset, so the agent meets other values)."""
    first_obs = np.asarray(first_obs, np.float64)
    constant = np.ones(first_obs.shape[1], bool)
    for trajectory in trajectories:
        obs = np.asarray(trajectory.obs, np.float64)
        constant &= np.ptp(obs, axis=0) <= 1e-6 * (1.0 + np.abs(obs).max(axis=0))
    varies = np.ptp(first_obs, axis=0) > 1e-6 * (1.0 + np.abs(first_obs).max(axis=0))
    return np.flatnonzero(constant & varies).tolist()


def first_observations(env: JaxEnv | GymnasiumEnv, seed: int, count: int = _RESETS) -> np.ndarray:
    """`count` first observations of `env` from resets with seeds derived from `seed`: f32[count, obs_dim]."""
    if isinstance(env, JaxEnv):
        obs, _ = env.reset_batch(jax.random.PRNGKey(seed + 30_000), count)
        return np.asarray(obs)
    return np.concatenate([env.reset(seed + 30_000 + index) for index in range(count)])


def context_features(env: JaxEnv | GymnasiumEnv, trajectories: Sequence[Trajectory], seed: int,
                     hidden: Collection[int] = ()) -> list[int]:
    """`per_episode_context` of the demonstrations when there are fewer than FEW_EPISODES of
    them (else, or without any, []), less the features `hidden` from the discriminator already."""
    if not trajectories or len(trajectories) >= FEW_EPISODES:
        return []
    return [feature for feature in per_episode_context(trajectories, first_observations(env, seed))
            if feature not in hidden]


def episodes_of(transitions: Transitions) -> list[Trajectory]:
    """The episodes of flattened expert transitions (`flatten_trajectories`' layout: each episode's
    last transition terminated or truncated), with their observations only meaningful."""
    obs, next_obs = np.asarray(transitions.obs), np.asarray(transitions.next_obs)
    ends = np.flatnonzero(np.asarray(transitions.terminated) | np.asarray(transitions.truncated)).tolist()
    if not ends or ends[-1] != obs.shape[0] - 1:
        ends.append(obs.shape[0] - 1)  # a last episode cut without a flag
    episodes, start = [], 0
    for end in ends:
        length = end + 1 - start
        episodes.append(Trajectory(obs=np.concatenate([obs[start:end + 1], next_obs[end:end + 1]]),
                                   actions=np.zeros(length, np.int32), rewards=np.zeros(length, np.float32),
                                   terminated=bool(np.asarray(transitions.terminated)[end])))
        start = end + 1
    return episodes


def context_warning(features: Sequence[int], count: int, hide_option: str | None = None, hidden: bool = False) -> str:
    """The one-line warning about `features` (from `context_features`) of `count` demonstrations;
    `hide_option` (e.g. "--gail.disc-ignore-obs") is the method's option that hides features
    from its discriminator, if it has one; `hidden`: the method hides them by default."""
    which = f"features {', '.join(map(str, features))} are" if len(features) > 1 else f"feature {features[0]} is"
    within = "the one demonstration" if count == 1 else f"each of the {count} demonstrations"
    shown = f"the expert's data shows {count} value{'s' if count > 1 else ''} of it where the agent meets many"
    if hidden:
        return (f"observation {which} fixed within {within} but drawn anew each episode (a goal, a target, a "
                f"condition): {shown}, so the discriminator does not see {'them' if len(features) > 1 else 'it'} "
                f"(the policy does; {hide_option} with no index shows every feature); imitation may still fail, and "
                f"{FEW_EPISODES} or more demonstrations or BC are the remedies then")
    remedies = f"{FEW_EPISODES} or more demonstrations, BC" + (
        f", or hiding them from the discriminator ({hide_option} {' '.join(map(str, features))})" if hide_option else "")
    return (f"observation {which} fixed within {within} but drawn anew each episode (a goal, a target, a "
            f"condition): {shown}, and imitation by a discriminator or by expert labels tends to fail then; "
            f"remedies: {remedies}")
