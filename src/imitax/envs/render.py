"""Environments drawn to RGB frames: the Gymnasium twin of an env id, with `rgb_array` rendering.

A JAX (gymnax) environment renders through the Gymnasium environment of the same id (same
observations and actions); a Gymnasium id ("module:EnvId" too) through itself. Classic
control draws with pygame, MuJoCo with OpenGL: on a machine without a display,
`headless_defaults` selects pygame's dummy drivers and MuJoCo's EGL backend unless the user
set MUJOCO_GL (egl or osmesa) or the SDL drivers already.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from imitax.envs.gymnasium_env import spec_from_gymnasium, with_time_limit
from imitax.envs.registry import gymnasium_id
from imitax.envs.spec import EnvSpec
from imitax.errors import ImitaxError, RenderError

HEADLESS_MUJOCO_GL = "egl"


def headless_defaults() -> None:
    """Environment variables for rendering without a display (only those not set already).

    pygame (classic control) otherwise greets on stdout and looks for a sound card and a
    display; MuJoCo's default backend (glfw) needs a display, EGL does not.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("MUJOCO_GL", HEADLESS_MUJOCO_GL)


def make_render_env(env_id: str, spec: EnvSpec | None = None) -> gym.Env:
    """The Gymnasium environment of `env_id` with `render_mode="rgb_array"`, time-limited like
    training's; with `spec`, checked to have its observation size and action space.

    Raises:
        UnknownEnvError: the id is not registered with Gymnasium.
        RenderError: the environment cannot render here, or is not the one `spec` describes.
    """
    headless_defaults()
    plain_id = gymnasium_id(env_id)
    try:
        env = with_time_limit(gym.make(plain_id, render_mode="rgb_array"))
    except (gym.error.Error, TypeError) as error:
        raise RenderError(f"cannot render {env_id}: {_reason(error)}; expected an environment that supports "
                          "render_mode='rgb_array' with its dependencies installed") from None
    if spec is not None:
        found = spec_from_gymnasium(env)
        if (found.obs_dim, found.action_space) != (spec.obs_dim, spec.action_space):
            env.close()
            raise RenderError(f"cannot render {env_id}: its Gymnasium environment has observations of size "
                              f"{found.obs_dim} and actions {found.action_space}; expected those of the policy "
                              f"({spec.obs_dim}, {spec.action_space})")
    return env


def render_frame(env: gym.Env, env_id: str) -> np.ndarray:
    """The current frame, u8[height, width, 3].

    Raises:
        RenderError: the renderer failed (no OpenGL for MuJoCo, pygame missing, ...).
    """
    try:
        frame = env.render()
    except ImitaxError:
        raise
    except Exception as error:  # pygame's, MuJoCo's and OpenGL's errors have no common base
        backend = os.environ.get("MUJOCO_GL")
        hint = (f"; MUJOCO_GL is {backend!r}: expected a working OpenGL for it (MUJOCO_GL=egl needs libEGL, "
                "MUJOCO_GL=osmesa needs libOSMesa)") if backend and "mujoco" in type(env.unwrapped).__module__ else \
            "; expected an environment that renders with render_mode='rgb_array'"
        raise RenderError(f"cannot render {env_id}: {_reason(error)}{hint}") from None
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise RenderError(f"cannot render {env_id}: render() returned an array of shape {frame.shape}; "
                          "expected an RGB image [height, width, 3]")
    return frame.astype(np.uint8, copy=False)


def _reason(error: Any) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())}"
