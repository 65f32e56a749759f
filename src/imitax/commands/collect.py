"""`imitax collect ENV`: roll out an expert policy into a Minari dataset."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import jax
import numpy as np
import tyro

from imitax.commands.common import Backend, emit, make_env, random_return
from imitax.data.minari_io import check_new_dataset_id, save_demonstrations
from imitax.data.rollout import collect_episodes
from imitax.errors import CheckpointError, ConfigError
from imitax.eval import evaluate
from imitax.io.policy_checkpoint import load_policy


@dataclasses.dataclass
class CollectArgs:
    """Collect expert demonstrations into a local Minari dataset."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    episodes: int = 10
    """episodes to record"""
    expert: Path | None = None
    """expert run folder or checkpoint (default: the newest runs/expert-<env>-* folder)"""
    dataset_id: str | None = None
    """Minari dataset id (default: <env>/expert-v0, e.g. cartpole/expert-v0)"""
    overwrite: bool = False
    """replace an existing dataset with the same id"""
    deterministic: bool = True
    """record the expert's modal action instead of a sample"""
    reference_episodes: int = 100
    """episodes to measure the expert's and a random policy's mean return (reference scores)"""
    seed: int = 0
    backend: Backend = "jax"
    runs_dir: Path = Path("runs")
    json: bool = False


def default_dataset_id(env_id: str) -> str:
    return f"{env_id.split('-')[0].lower()}/expert-v0"


def find_expert(runs_dir: Path, env_id: str) -> Path:
    candidates = sorted(p for p in runs_dir.glob(f"expert-{env_id}-*") if (p / "checkpoint").is_dir())
    if not candidates:
        raise CheckpointError(f"no expert for {env_id} under {runs_dir}/ (expected a folder expert-{env_id}-*); "
                              f"train one with `imitax expert {env_id}` or pass --expert PATH")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def run_collect(args: CollectArgs) -> dict[str, Any]:
    if args.episodes <= 0 or args.reference_episodes <= 0:
        raise ConfigError(f"--episodes and --reference-episodes must be > 0, got {args.episodes} and {args.reference_episodes}")
    dataset_id = args.dataset_id or default_dataset_id(args.env_id)
    check_new_dataset_id(dataset_id, overwrite=args.overwrite)  # before a minute of rollouts
    env = make_env(args.env_id, args.backend)
    expert_path = args.expert or find_expert(args.runs_dir, args.env_id)
    policy, params, _ = load_policy(expert_path)
    if policy.spec.env_id != env.spec.env_id or policy.spec.obs_dim != env.spec.obs_dim or policy.spec.action_space != env.spec.action_space:
        raise CheckpointError(f"expert {expert_path} was trained on {policy.spec.env_id} "
                              f"(obs {policy.spec.obs_dim}, {policy.spec.action_space}); expected one for {env.spec.env_id}")

    def expert_fn(key: jax.Array, obs: jax.Array) -> jax.Array:
        return policy.act(params, key, obs, deterministic=args.deterministic)

    key = jax.random.PRNGKey(args.seed)
    trajectories = collect_episodes(env, expert_fn, key, args.episodes)
    expert_score = evaluate(env, expert_fn, jax.random.fold_in(key, 1), args.reference_episodes).mean
    random_score = random_return(env, args.reference_episodes, args.seed)
    path = save_demonstrations(dataset_id, trajectories, env.spec, expert_score=expert_score, random_score=random_score,
                               algorithm_name="imitax-ppo-expert", overwrite=args.overwrite,
                               description=f"{args.episodes} episodes of an imitax PPO expert ({expert_path}) on {args.env_id}")
    returns = [t.episode_return for t in trajectories]
    out = {"command": "collect", "env_id": args.env_id, "dataset_id": dataset_id, "path": str(path),
           "episodes": len(trajectories), "transitions": int(sum(len(t) for t in trajectories)),
           "demo_mean_return": float(np.mean(returns)), "expert_score": expert_score, "random_score": random_score}
    emit(out, args.json, [f"collected {len(trajectories)} episodes ({out['transitions']} transitions, mean return "
                          f"{out['demo_mean_return']:.1f}) into Minari dataset {dataset_id} at {path}",
                          f"reference scores: expert {expert_score:.1f}, random {random_score:.1f}"])
    return out
