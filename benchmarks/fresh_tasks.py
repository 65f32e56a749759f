"""Two users' own Gymnasium environments and experts, written after every default was fixed.

The held-out set served, more than once, to choose between candidate defaults (README,
"Out of sample"), so its figures are no longer a clean test. These tasks are: they were
written on 2026-11-27, after the last default changed, and measured once with the defaults
as they were; no setting was changed after their figures were seen. They differ from every
task before them in the ways users' tasks differ:

- Parking (Box, a goal with termination on success): a kinematic car, obs = (x, y, cos heading,
  sin heading), f32[4]; actions = (speed, turn rate), Box(-1, 1, (2,)); reward -0.1 per step
  until it stands at the origin facing +x (within 0.1 and 0.25 rad), where the episode ends;
  200 steps at most. Ending early is the goal, as in MountainCar, but with Box actions and a
  non-holonomic car. Expert: a polar-coordinates pose controller (Astolfi), NumPy.
- Thermostat (Discrete(3), a fixed horizon, a target that moves): a room's temperature with
  heating off / low / high, an outside temperature drawn per episode and a setpoint that steps
  20 -> 23 -> 18 degrees; obs = ((T - 20) / 5, (outside - 10) / 10, (setpoint - 20) / 5, t / 150),
  f32[4]; reward = -|T - setpoint| per step; 150 steps, no termination. Expert: a one-step
  lookahead on the known model, NumPy.

Both are registered with class entry points, as a user registers their own env.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

PARKING_ID = "imitax_bench/Parking-v0"
THERMOSTAT_ID = "imitax_bench/Thermostat-v0"
PARKING_HORIZON = 200
THERMOSTAT_HORIZON = 150
DT = 0.1
MAX_TURN = 2.0  # rad/s at action 1


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


class ParkingEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._pose = np.zeros(3)

    def _obs(self) -> np.ndarray:
        x, y, heading = self._pose
        return np.array([x, y, np.cos(heading), np.sin(heading)], np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        radius = self.np_random.uniform(1.0, 2.0)
        bearing, heading = self.np_random.uniform(-np.pi, np.pi, 2)
        self._pose = np.array([radius * np.cos(bearing), radius * np.sin(bearing), heading])
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        speed, turn = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        x, y, heading = self._pose
        x = np.clip(x + DT * speed * np.cos(heading), -3.0, 3.0)
        y = np.clip(y + DT * speed * np.sin(heading), -3.0, 3.0)
        self._pose = np.array([x, y, _wrap(heading + DT * MAX_TURN * turn)])
        parked = bool(np.hypot(x, y) < 0.1 and abs(self._pose[2]) < 0.25)
        return self._obs(), -0.1, parked, False, {}


def parking_expert(obs: np.ndarray) -> np.ndarray:
    """Astolfi's pose controller, driving forwards or backwards, on obs f32[4] or f32[n, 4]."""
    obs = np.asarray(obs, np.float64)
    x, y, heading = obs[..., 0], obs[..., 1], np.arctan2(obs[..., 3], obs[..., 2])
    rho = np.hypot(x, y)
    alpha = _wrap(np.arctan2(-y, -x) - heading)
    backwards = np.abs(alpha) > np.pi / 2  # the goal is behind: reverse into it
    alpha = np.where(backwards, _wrap(alpha + np.pi), alpha)
    beta = _wrap(-heading - alpha)
    speed = np.where(backwards, -1.0, 1.0) * 2.0 * rho
    turn = (6.0 * alpha - 2.0 * beta) / MAX_TURN
    return np.clip(np.stack([speed, turn], -1), -1.0, 1.0).astype(np.float32)


HEAT = np.array([0.0, 1.5, 3.0])  # degrees per step from off / low / high
LEAK = 0.1  # share of the gap to the outside temperature lost per step


def setpoint(t: np.ndarray) -> np.ndarray:
    return np.where(t < 50, 20.0, np.where(t < 100, 23.0, 18.0))


class ThermostatEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._temperature = self._outside = 0.0
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([(self._temperature - 20.0) / 5.0, (self._outside - 10.0) / 10.0,
                         (setpoint(self._t) - 20.0) / 5.0, self._t / THERMOSTAT_HORIZON], np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._outside = self.np_random.uniform(0.0, 15.0)
        self._temperature = self.np_random.uniform(12.0, 24.0)
        self._t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        noise = self.np_random.normal(0.0, 0.1)
        self._temperature += LEAK * (self._outside - self._temperature) + HEAT[int(action)] + noise
        self._t += 1
        reward = -abs(self._temperature - float(setpoint(self._t)))
        return self._obs(), reward, False, False, {}


def thermostat_expert(obs: np.ndarray) -> np.ndarray:
    """The heating level whose expected next temperature is nearest the next setpoint, int32[...]."""
    obs = np.asarray(obs, np.float64)
    temperature, outside = obs[..., 0] * 5.0 + 20.0, obs[..., 1] * 10.0 + 10.0
    t_next = np.rint(obs[..., 3] * THERMOSTAT_HORIZON) + 1
    predicted = (temperature + LEAK * (outside - temperature))[..., None] + HEAT
    return np.argmin(np.abs(predicted - setpoint(t_next)[..., None]), -1).astype(np.int32)


def register() -> tuple[str, str]:
    """Register both envs (idempotent) and return their ids."""
    if PARKING_ID not in gym.registry:
        gym.register(id=PARKING_ID, entry_point=ParkingEnv, max_episode_steps=PARKING_HORIZON)
    if THERMOSTAT_ID not in gym.registry:
        gym.register(id=THERMOSTAT_ID, entry_point=ThermostatEnv, max_episode_steps=THERMOSTAT_HORIZON)
    return PARKING_ID, THERMOSTAT_ID


EXPERTS = {PARKING_ID: (parking_expert, "NumPy pose controller (benchmarks/fresh_tasks.py)"),
           THERMOSTAT_ID: (thermostat_expert, "NumPy one-step lookahead (benchmarks/fresh_tasks.py)")}

register()
