"""A policy's episodes as an MP4: rendered through Gymnasium's `rgb_array` mode
(`imitax.envs.render`), written by `imitax.io.video.VideoWriter`.

    video = record_policy_video("CartPole-v1", policy, params, Path("out.mp4"), episodes=2)
    video.frames, video.episode_lengths    # frames = sum(length + 1): the reset frame, then one per step

Frames are encoded as they are rendered, so a long episode does not sit in memory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import numpy as np

from imitax.envs.render import make_render_env, render_frame
from imitax.envs.spec import executed_actions
from imitax.io.video import DEFAULT_FPS, VideoWriter
from imitax.nets.policy import Policy
from imitax.nets.squashed_policy import SquashedGaussianPolicy


@dataclasses.dataclass(frozen=True)
class PolicyVideo:
    """What `record_policy_video` wrote: the file, its frame count, each episode's return and length."""

    path: Path
    frames: int
    fps: float
    episode_returns: list[float]
    episode_lengths: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "frames": self.frames, "fps": self.fps,
                "episode_returns": self.episode_returns, "episode_lengths": self.episode_lengths}


def record_policy_video(env_id: str, policy: Policy | SquashedGaussianPolicy, params: Any, path: Path, episodes: int = 1,
                        seed: int = 0, deterministic: bool = True) -> PolicyVideo:
    """Run `episodes` episodes of the policy (params of one seed) in the Gymnasium environment
    of `env_id` and write them, one after another, to the MP4 at `path` (atomically).

    Episode i starts from `reset(seed=seed + i)`; stochastic actions draw from
    `jax.random.PRNGKey(seed)`.

    Raises:
        RenderError: the environment cannot render here, or is not the policy's.
        OutputError: `path` cannot be written.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = make_render_env(env_id, policy.spec)
    act = jax.jit(lambda key, obs: executed_actions(policy.spec.action_space,
                                                    policy.act(params, key, obs[None], deterministic)[0]))
    fps = float(env.metadata.get("render_fps") or DEFAULT_FPS)
    key = jax.random.PRNGKey(seed)
    returns: list[float] = []
    lengths: list[int] = []
    try:
        with VideoWriter(path, fps=fps) as video:
            for episode in range(episodes):
                obs, _ = env.reset(seed=seed + episode)
                video.add(render_frame(env, env_id))
                total, length, done = 0.0, 0, False
                while not done:
                    key, step_key = jax.random.split(key)
                    action = np.asarray(act(step_key, np.asarray(obs, np.float32).reshape(-1)))
                    obs, reward, terminated, truncated, _ = env.step(_env_action(env, action))
                    video.add(render_frame(env, env_id))
                    total, length, done = total + float(reward), length + 1, bool(terminated or truncated)
                returns.append(total)
                lengths.append(length)
    finally:
        env.close()
    return PolicyVideo(Path(path), video.frames_written, fps, returns, lengths)


def _env_action(env: Any, action: np.ndarray) -> Any:
    """The policy's action (i32[] or f32[action_dim]) in the environment's own form."""
    if np.issubdtype(action.dtype, np.integer):
        return int(action)
    return action.astype(env.action_space.dtype).reshape(env.action_space.shape)
