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
from imitax.errors import CheckpointError, ConfigError
from imitax.io.checkpoint import META_FILE, load_checkpoint, read_metadata, require_finite
from imitax.nets.airl_reward import AIRLRewardNet
from imitax.nets.discriminator import REWARD_KINDS, Discriminator, check_ignore_obs
from imitax.nets.mlp import read_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.implicit_reward import ImplicitReward
from imitax.schema import REQUIRED, Fields

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
    spec = EnvSpec.from_fields(Fields(meta, path / META_FILE).section("env_spec"))
    net, _ = reward_network(spec, meta, path / META_FILE)
    params, _ = load_checkpoint(path, template=net.init(jax.random.PRNGKey(0), ObsNormalizer.identity(spec.obs_dim)))
    require_finite(path, params)
    return params, spec, meta


def reward_network(spec: EnvSpec, meta: dict[str, Any], source: Any = "reward metadata",
                   ) -> tuple[Any, Callable[[Any, Transitions], jnp.ndarray]]:
    """(network, reward(params, transitions) -> f32[...]) of the reward that `meta` (a reward
    checkpoint's metadata, from `source`) describes, read through its schema: algorithm one of
    REWARD_NETWORKS; network {hidden_sizes, activation, and the algorithm's own fields below};
    GAIL's and DAC's reward form one of REWARD_KINDS (absent: "positive").

    Raises:
        CheckpointError: naming `source`, the field, its value and what was expected."""
    fields = Fields(meta, source)
    algorithm = fields.text("algorithm", choices=tuple(REWARD_NETWORKS))
    return REWARD_NETWORKS[algorithm](spec, fields.section("network"), fields)


def _discount(network: Fields, default: Any = REQUIRED) -> float:
    return network.number("gamma", default, low=0.0, high=1.0, open_ends="high")


def _airl_reward(spec: EnvSpec, network: Fields, meta: Fields) -> tuple[AIRLRewardNet, Callable[..., jnp.ndarray]]:
    """AIRL's g(s[, a]): state_only, gamma in [0, 1), absorbing (absent: false), ignore_obs (absent: none)."""
    net = AIRLRewardNet(spec, *read_network(network), network.flag("state_only"), _discount(network),
                        network.flag("absorbing", default=False), _ignored_features(spec, network, meta))
    return net, net.reward


def _discriminator_reward(spec: EnvSpec, network: Fields, meta: Fields) -> tuple[Discriminator, Callable[..., jnp.ndarray]]:
    """A GAIL-style discriminator's reward of the form the run trained on: use_next_obs,
    absorbing (absent: false), gamma (absent: 0.99), ignore_obs (feature indices; absent: none)."""
    net = Discriminator(spec, *read_network(network), network.flag("use_next_obs"),
                        network.flag("absorbing", default=False), _discount(network, 0.99),
                        _ignored_features(spec, network, meta))
    kind = meta.text("reward", default="positive", choices=REWARD_KINDS)
    return net, lambda params, transitions: net.reward(params, transitions, kind)


def _ignored_features(spec: EnvSpec, network: Fields, meta: Fields) -> tuple[int, ...]:
    """network.ignore_obs: distinct feature indices of `spec`'s observation (absent: none)."""
    ignore_obs = network.integers("ignore_obs", default=(), low=0)
    try:
        check_ignore_obs(ignore_obs, spec.obs_dim, "network.ignore_obs")
    except ConfigError as error:
        raise CheckpointError(f"{meta.source}: {error}") from None
    return ignore_obs


def _implicit_reward(spec: EnvSpec, network: Fields, meta: Fields) -> tuple[ImplicitReward, Callable[..., jnp.ndarray]]:
    """IQ-Learn's Q(s, a) - gamma V(s') from its saved critics and actor: gamma, num_critics (1 to 16)."""
    net = ImplicitReward(spec, *read_network(network), _discount(network), network.integer("num_critics", low=1, high=16))
    return net, net.reward


# The saved-reward kinds, by the algorithm that wrote them: a builder of (network, reward(params, transitions)).
REWARD_NETWORKS: dict[str, Callable[[EnvSpec, Fields, Fields], tuple[Any, Callable[..., jnp.ndarray]]]] = {
    "gail": _discriminator_reward,
    "dac": _discriminator_reward,
    "airl": _airl_reward,
    "iq-learn": _implicit_reward,
}
