"""Learned rewards as checkpoints: GAIL's or DAC's discriminator, AIRL's g(s[, a]) or the
reward IQ-Learn's soft Q-function implies.

`load_reward(path)` rebuilds the network named in meta.json and returns a pure
`reward_fn(transitions) -> f32[...]` that plugs into `train_ppo(reward_fn=...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from imitax.data.types import Transitions
from imitax.envs.spec import EnvSpec
from imitax.errors import CheckpointError, ConfigError, ImitaxError
from imitax.io.checkpoint import load_checkpoint, read_metadata, require_finite
from imitax.nets.airl_reward import AIRLRewardNet
from imitax.nets.discriminator import REWARD_KINDS, Discriminator, check_ignore_obs
from imitax.nets.mlp import check_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.implicit_reward import ImplicitReward

RewardFn = Callable[[Transitions], jnp.ndarray]


def load_reward(path: str | Path) -> tuple[RewardFn, EnvSpec, dict[str, Any]]:
    """(reward_fn, env spec, metadata) from a reward checkpoint or a run folder holding one."""
    params, spec, meta = load_reward_params(path)
    _, reward = reward_network(spec, meta)
    return (lambda transitions: reward(params, transitions)), spec, meta


def load_reward_params(path: str | Path) -> tuple[Any, EnvSpec, dict[str, Any]]:
    """(params, env spec, metadata) of a reward checkpoint or a run folder holding one;
    `reward_network(spec, metadata)` gives the function of those params."""
    path = Path(path)
    if (path / "reward").is_dir():
        path = path / "reward"
    meta = read_metadata(path)
    if meta.get("kind") != "reward":
        raise CheckpointError(f"{path}: checkpoint kind is {meta.get('kind')!r}; expected a 'reward' checkpoint "
                              "(the reward/ folder of a gail, airl, dac or iq-learn run)")
    try:
        spec = EnvSpec.from_dict(meta["env_spec"])
        net, _ = reward_network(spec, meta)
    except (ImitaxError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: meta.json has no valid env_spec/network/algorithm ({error}); expected the "
                              "fields a gail, airl, dac or iq-learn run writes") from None
    params, _ = load_checkpoint(path, template=net.init(jax.random.PRNGKey(0), ObsNormalizer.identity(spec.obs_dim)))
    require_finite(path, params)
    return params, spec, meta


def reward_network(spec: EnvSpec, meta: dict[str, Any]) -> tuple[Any, Callable[[Any, Transitions], jnp.ndarray]]:
    """(network, reward(params, transitions) -> f32[...]) of the reward that `meta` (a reward
    checkpoint's metadata: algorithm, network, reward form) describes.

    Raises:
        CheckpointError: an unknown algorithm or reward form, or a bad network entry.
        KeyError: a missing entry.
    """
    network = meta["network"]
    algorithm = meta["algorithm"]
    check_network(network["hidden_sizes"], network["activation"], hidden_name="network.hidden_sizes",
                  activation_name="network.activation")
    if algorithm not in REWARD_NETWORKS:
        raise CheckpointError(f"reward of algorithm {algorithm!r}; expected one of {', '.join(REWARD_NETWORKS)}")
    return REWARD_NETWORKS[algorithm](spec, network, meta)


def _airl_reward(spec: EnvSpec, network: dict[str, Any], meta: dict[str, Any]) -> tuple[AIRLRewardNet, Callable[..., jnp.ndarray]]:
    """AIRL's g(s[, a]) with its absorbing value."""
    net = AIRLRewardNet(spec, tuple(network["hidden_sizes"]), network["activation"],
                        _flag(network["state_only"], "state_only"), _discount(network["gamma"]),
                        _flag(network.get("absorbing", False), "absorbing"))
    return net, net.reward


def _discriminator_reward(spec: EnvSpec, network: dict[str, Any], meta: dict[str, Any]) -> tuple[Discriminator, Callable[..., jnp.ndarray]]:
    """A GAIL-style discriminator's reward of the form the run trained on."""
    ignore_obs = network.get("ignore_obs", [])
    if not isinstance(ignore_obs, list):
        raise CheckpointError(f"network.ignore_obs is {ignore_obs!r}; expected a list of observation feature indices")
    try:
        check_ignore_obs(tuple(ignore_obs), spec.obs_dim, "network.ignore_obs")
    except ConfigError as error:
        raise CheckpointError(str(error)) from None
    net = Discriminator(spec, tuple(network["hidden_sizes"]), network["activation"], network["use_next_obs"],
                        _flag(network.get("absorbing", False), "absorbing"), _discount(network.get("gamma", 0.99)),
                        tuple(ignore_obs))
    kind = meta.get("reward", "positive")
    if kind not in REWARD_KINDS:
        raise CheckpointError(f"reward form {kind!r}; expected one of {', '.join(REWARD_KINDS)}")
    return net, lambda params, transitions: net.reward(params, transitions, kind)


def _implicit_reward(spec: EnvSpec, network: dict[str, Any], meta: dict[str, Any]) -> tuple[ImplicitReward, Callable[..., jnp.ndarray]]:
    """IQ-Learn's Q(s, a) - gamma V(s') from its saved critics and actor."""
    net = ImplicitReward(spec, tuple(network["hidden_sizes"]), network["activation"], _discount(network["gamma"]),
                         _count(network["num_critics"], "num_critics"))
    return net, net.reward


# The saved-reward kinds, by the algorithm that wrote them: a builder of (network, reward(params, transitions)).
REWARD_NETWORKS: dict[str, Callable[[EnvSpec, dict[str, Any], dict[str, Any]], tuple[Any, Callable[..., jnp.ndarray]]]] = {
    "gail": _discriminator_reward,
    "dac": _discriminator_reward,
    "airl": _airl_reward,
    "iq-learn": _implicit_reward,
}


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise CheckpointError(f"network.{name} is {value!r}; expected true or false")
    return value


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise CheckpointError(f"network.{name} is {value!r}; expected an integer from 1 to 16")
    return value


def _discount(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise CheckpointError(f"network.gamma is {value!r}; expected a number in [0, 1)")
    return float(value)
