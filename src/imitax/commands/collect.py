"""`imitax collect ENV`: roll out an expert into a Minari dataset.

The expert is an imitax checkpoint (`--expert`, default: the newest expert run of ENV) or
the user's own Python function (`--policy module:function`, obs -> action, see
`imitax.collect`); ENV may be "module:EnvId" to import the module that registers it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import jax
import numpy as np
import tyro

from imitax.commands.common import Backend, emit, make_env, random_return, run_name
from imitax.data.minari_io import check_new_dataset_id, save_demonstrations
from imitax.data.rollout import collect_episodes
from imitax.errors import CheckpointError, ConfigError
from imitax.eval import REFERENCE_MARGIN, check_references, evaluate
from imitax.io.policy_checkpoint import check_policy_fits, load_policy
from imitax.record import collect, default_dataset_id


@dataclasses.dataclass
class CollectArgs:
    """Collect expert demonstrations into a local Minari dataset."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    episodes: int = 10
    """episodes to record"""
    expert: Path | None = None
    """expert run folder or checkpoint (default: the newest runs/expert-<env>-* folder)"""
    policy: str | None = None
    """your own expert instead: module:function taking one observation, returning one action (module on PYTHONPATH)"""
    batched: bool = False
    """--policy takes a batch of observations [n, ...] and returns [n, ...] actions (parallel env copies)"""
    dataset_id: str | None = None
    """Minari dataset id (default: <env>/expert-v0, e.g. cartpole/expert-v0)"""
    overwrite: bool = False
    """replace an existing dataset with the same id"""
    deterministic: bool = True
    """record the expert's modal action instead of a sample"""
    reference_episodes: int = 100
    """episodes to measure the expert's and a random policy's mean return (reference scores)"""
    allow_weak_expert: bool = False
    """save even if the expert does not beat random by 5% of the larger reference's magnitude"""
    seed: int = 0
    backend: Backend = "jax"
    runs_dir: Path = Path("runs")
    json: bool = False


def find_expert(runs_dir: Path, env_id: str) -> Path:
    pattern = f"expert-{run_name(env_id)}-*"
    candidates = sorted(p for p in runs_dir.glob(pattern) if (p / "checkpoint").is_dir())
    if not candidates:
        raise CheckpointError(f"no expert for {env_id} under {runs_dir}/ (expected a folder {pattern}); "
                              f"train one with `imitax expert {env_id}` or pass --expert PATH")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def run_collect(args: CollectArgs) -> dict[str, Any]:
    if args.episodes <= 0 or args.reference_episodes <= 0:
        raise ConfigError(f"--episodes and --reference-episodes must be > 0, got {args.episodes} and {args.reference_episodes}")
    if args.policy is not None:
        return _collect_own_policy(args)
    if args.batched:
        raise ConfigError("--batched applies to --policy only; expected --policy module:function with it")
    dataset_id = args.dataset_id or default_dataset_id(args.env_id)
    check_new_dataset_id(dataset_id, overwrite=args.overwrite)  # before a minute of rollouts
    env = make_env(args.env_id, args.backend)
    expert_path = args.expert or find_expert(args.runs_dir, args.env_id)
    policy, params, _ = load_policy(expert_path)
    check_policy_fits(policy.spec, env.spec, f"expert {expert_path}")

    def expert_fn(key: jax.Array, obs: jax.Array) -> jax.Array:
        return policy.act(params, key, obs, deterministic=args.deterministic)

    key = jax.random.PRNGKey(args.seed)
    trajectories = collect_episodes(env, expert_fn, key, args.episodes)
    expert_score = evaluate(env, expert_fn, jax.random.fold_in(key, 1), args.reference_episodes).mean
    random_score = random_return(env, args.reference_episodes, args.seed)
    if not args.allow_weak_expert:
        _check_expert_beats_random(args.env_id, dataset_id, random_score, expert_score, f"the expert {expert_path}")
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


def _collect_own_policy(args: CollectArgs) -> dict[str, Any]:
    """`--policy module:function`: record the user's function on the Gymnasium env (host loop)."""
    if args.expert is not None:
        raise ConfigError(f"--policy {args.policy} and --expert {args.expert} both given; expected one expert")
    policy = import_policy(args.policy)  # imported first: the module may register the env
    result = collect(args.env_id, policy, args.episodes, args.dataset_id, batched=args.batched,
                     reference_episodes=args.reference_episodes, seed=args.seed, overwrite=args.overwrite,
                     allow_weak_expert=args.allow_weak_expert, algorithm_name=f"imitax-collect: {args.policy}",
                     description=f"{args.episodes} episodes of the policy {args.policy} on {args.env_id}, "
                                 "recorded by imitax collect")
    out = {"command": "collect", **result.to_dict(), "env_id": args.env_id, "policy": args.policy}
    emit(out, args.json, [f"collected {out['episodes']} episodes ({out['transitions']} transitions, mean return "
                          f"{out['demo_mean_return']:.1f}) of {args.policy} into Minari dataset {out['dataset_id']} "
                          f"at {out['path']}",
                          f"reference scores: expert {out['expert_score']:.1f}, random {out['random_score']:.1f}"])
    return out


def import_policy(target: str) -> Callable[..., Any]:
    """The function named by "module:function" ("module:Class.method" works too).

    Raises:
        ConfigError: not of that form, the module cannot be imported, the attribute is
            missing or not callable.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--policy {target!r} is not of the form module:function; expected e.g. "
                          "my_expert:act, with my_expert.py on PYTHONPATH")
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as error:  # the user's module: ImportError, or whatever its import raised
        raise ConfigError(f"--policy {target!r}: cannot import module {module_name!r}: {type(error).__name__}: "
                          f"{error}; expected a module on sys.path or PYTHONPATH") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigError(f"--policy {target!r}: module {module_name!r} has no attribute {attribute!r}; "
                              "expected a function taking observations and returning actions")
        found = getattr(found, part)
    if not callable(found):
        raise ConfigError(f"--policy {target!r}: {attribute!r} is a {type(found).__name__}, not callable; "
                          "expected a function taking observations and returning actions")
    return found


def _check_expert_beats_random(env_id: str, dataset_id: str, random_score: float, expert_score: float, expert: str) -> None:
    try:
        check_references(random_score, expert_score, margin=REFERENCE_MARGIN)
    except ConfigError as error:
        raise ConfigError(f"{env_id}: refusing to save {dataset_id!r} from {expert}: {error}; train a stronger "
                          "expert, or pass --allow-weak-expert to save it anyway") from None
