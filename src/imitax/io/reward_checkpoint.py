"""Learned rewards as checkpoints: GAIL's discriminator or AIRL's g(s[, a]).

`load_reward(path)` rebuilds the network named in meta.json and returns a pure
`reward_fn(transitions) -> f32[...]` that plugs into `train_ppo(reward_fn=...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from imitax.algos.gail import reward_from_logits
from imitax.data.types import Transitions
from imitax.envs.spec import EnvSpec
from imitax.errors import CheckpointError
from imitax.io.checkpoint import load_checkpoint, read_metadata
from imitax.nets.airl_reward import AIRLRewardNet
from imitax.nets.discriminator import Discriminator
from imitax.nets.normalizer import ObsNormalizer

RewardFn = Callable[[Transitions], jnp.ndarray]


def load_reward(path: str | Path) -> tuple[RewardFn, EnvSpec, dict[str, Any]]:
    """(reward_fn, env spec, metadata) from a reward checkpoint or a run folder holding one."""
    path = Path(path)
    if (path / "reward").is_dir():
        path = path / "reward"
    meta = read_metadata(path)
    if meta.get("kind") != "reward":
        raise CheckpointError(f"{path}: checkpoint kind is {meta.get('kind')!r}; expected a 'reward' checkpoint "
                              "(the reward/ folder of a gail or airl run)")
    try:
        spec = EnvSpec.from_dict(meta["env_spec"])
        network = meta["network"]
        algorithm = meta["algorithm"]
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: meta.json lacks a valid env_spec/network/algorithm ({error})") from None
    norm = ObsNormalizer.identity(spec.obs_dim)
    if algorithm == "airl":
        net = AIRLRewardNet(spec, tuple(network["hidden_sizes"]), network["activation"], network["state_only"],
                            float(network["gamma"]), bool(network.get("absorbing", False)))
        params, _ = load_checkpoint(path, template=net.init(jax.random.PRNGKey(0), norm))
        return (lambda transitions: net.reward(params, transitions)), spec, meta
    if algorithm == "gail":
        disc = Discriminator(spec, tuple(network["hidden_sizes"]), network["activation"], network["use_next_obs"])
        params, _ = load_checkpoint(path, template=disc.init(jax.random.PRNGKey(0), norm))
        kind = meta.get("reward", "positive")
        return (lambda transitions: reward_from_logits(disc.logits(params, transitions), kind)), spec, meta
    raise CheckpointError(f"{path}: reward of algorithm {algorithm!r}; expected 'gail' or 'airl'")
