"""`imitax eval RUN`: returns and normalised score of a saved policy; `--video out.mp4` films it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import jax
import tyro

from imitax.commands.common import Backend, emit, make_env, random_return
from imitax.commands.wall_time import phase
from imitax.data.minari_io import load_demonstrations
from imitax.errors import ConfigError
from imitax.eval import evaluate_policy, normalized_score
from imitax.io.policy_checkpoint import check_policy_fits, load_policy
from imitax.io.policy_video import record_policy_video
from imitax.io.result_file import read_result_file
from imitax.io.video import check_video_path


@dataclasses.dataclass
class EvalArgs:
    """Evaluate a run's (or a checkpoint's) policy."""

    run: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    """run folder (runs/<name>) or checkpoint folder"""
    episodes: int = 100
    stochastic: bool = False
    """sample actions instead of taking the modal one"""
    demos: str | None = None
    """dataset whose reference scores normalise the return (default: the run's own)"""
    seed: int = 0
    backend: Backend = "jax"
    json: bool = False
    video: Path | None = None
    """also film the policy into this .mp4 file (through the Gymnasium environment's rgb_array rendering; a JAX
    environment through its Gymnasium twin)"""
    video_episodes: int = 1
    """episodes in the --video file, one after another"""

    def validate(self) -> EvalArgs:
        """Raise ConfigError/OutputError on options no evaluation can use (before anything runs)."""
        if self.episodes <= 0:
            raise ConfigError(f"--episodes must be > 0, got {self.episodes}")
        if self.video_episodes <= 0:
            raise ConfigError(f"--video-episodes must be > 0, got {self.video_episodes}")
        if self.video is not None:
            check_video_path(self.video, "--video")
        return self


def run_eval(args: EvalArgs) -> dict[str, Any]:
    args.validate()
    policy, params, meta = load_policy(args.run)
    env = make_env(policy.spec.env_id, args.backend)
    check_policy_fits(policy.spec, env.spec, args.run)  # a meta.json whose spaces are not its env's
    result = evaluate_policy(env, policy, params, jax.random.PRNGKey(args.seed), args.episodes,
                             deterministic=not args.stochastic)
    reference = _reference(args, meta, env)
    out: dict[str, Any] = {"command": "eval", "run": str(args.run), "env_id": policy.spec.env_id,
                           "algorithm": meta.get("algorithm"), **result.to_dict()}
    if reference is not None:
        out["reference"] = reference
        out["normalized_score"] = float(normalized_score(result.mean, reference["random"], reference["expert"]))
    line = f"{policy.spec.env_id}: mean return {result.mean:.1f} ± {result.std:.1f} over {args.episodes} episodes"
    if "normalized_score" in out:
        line += f", normalised score {out['normalized_score']:.3f}"
    lines = [line]
    if args.video is not None:
        with phase("save"):
            video = record_policy_video(policy.spec.env_id, policy, params, args.video, episodes=args.video_episodes,
                                        seed=args.seed, deterministic=not args.stochastic)
        out["video"] = video.to_dict()
        lines.append(f"video: {video.path} ({video.frames} frames, {len(video.episode_lengths)} episodes, "
                     f"returns {', '.join(f'{r:.1f}' for r in video.episode_returns)})")
    emit(out, args.json, lines)
    return out


def _reference(args: EvalArgs, meta: dict[str, Any], env: Any) -> dict[str, float] | None:
    if args.demos is not None:
        demos = load_demonstrations(args.demos, spec=env.spec)
        if demos.expert_score is not None and demos.random_score is not None:
            return {"random": demos.random_score, "expert": demos.expert_score}
    saved = read_result_file(args.run).reference
    if saved is not None:
        return saved
    if meta.get("expert_return") is not None:  # an expert's checkpoint (both checked by load_policy)
        random = meta.get("random_return")
        return {"random": float(random) if random is not None else random_return(env, args.episodes, args.seed),
                "expert": float(meta["expert_return"])}
    return None
