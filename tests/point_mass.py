"""A user's own Gymnasium environment and expert, as a user would write them.

A 2-D point mass steers to a random goal: obs = (position, velocity, goal), f32[6];
actions = force, Box(-1, 1, (2,)); reward = minus the distance to the goal; 100 steps.
Registered with a class entry point (the usual way to register one's own env), and the
expert is a NumPy PD controller: nothing here knows about JAX or imitax. Tests and the
held-out benchmark both use it; no default of imitax was tuned on it.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

ENV_ID = "imitax_test/PointMass-v0"
HORIZON = 100
DT = 0.1


class PointMassEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (6,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._pos = np.zeros(2)
        self._vel = np.zeros(2)
        self._goal = np.zeros(2)

    def _obs(self) -> np.ndarray:
        return np.concatenate([self._pos, self._vel, self._goal]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._pos = self.np_random.uniform(-1.0, 1.0, 2)
        self._vel = np.zeros(2)
        self._goal = self.np_random.uniform(-1.0, 1.0, 2)
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        force = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        self._vel = 0.9 * self._vel + DT * force * 5.0
        self._pos = np.clip(self._pos + DT * self._vel, -2.0, 2.0)
        reward = -float(np.linalg.norm(self._pos - self._goal))
        return self._obs(), reward, False, False, {}


def pd_expert(obs: np.ndarray) -> np.ndarray:
    """The expert: a PD controller on one observation f32[6] or a batch f32[n, 6]."""
    obs = np.asarray(obs)
    pos, vel, goal = obs[..., 0:2], obs[..., 2:4], obs[..., 4:6]
    return np.clip(4.0 * (goal - pos) - 1.5 * vel, -1.0, 1.0).astype(np.float32)


def register() -> str:
    """Register the env (idempotent) and return its id."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=PointMassEnv, max_episode_steps=HORIZON)
    return ENV_ID


register()
