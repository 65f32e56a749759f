"""An expert to query (DAgger) from an imitax policy checkpoint.

`load_expert(path, spec)` loads the policy saved by `imitax expert` (or any train
command), checks that it was made for the same environment, and returns a pure
`expert_fn(key, obs: f32[obs_dim]) -> action` that acts deterministically (its modal action).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from imitax.algos.dagger import ExpertFn
from imitax.envs.spec import EnvSpec
from imitax.errors import CheckpointError, ConfigError
from imitax.io.policy_checkpoint import load_policy


def load_expert(path: str | Path, spec: EnvSpec, deterministic: bool = True) -> tuple[ExpertFn, dict[str, Any]]:
    """(expert_fn, checkpoint metadata) from a policy checkpoint folder or a run folder holding one.

    Raises:
        CheckpointError: nothing there, or not a policy checkpoint.
        ConfigError: the policy was made for another environment or other spaces than `spec`.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"expert {path} does not exist; expected a run folder of `imitax expert` "
                              "or its checkpoint/ folder")
    policy, params, meta = load_policy(path)
    saved = policy.spec
    if (saved.env_id, saved.obs_dim, saved.action_space) != (spec.env_id, spec.obs_dim, spec.action_space):
        raise ConfigError(f"expert {path} is a policy for {saved.env_id} (obs {saved.obs_dim}, {saved.action_space}); "
                          f"expected one for {spec.env_id} (obs {spec.obs_dim}, {spec.action_space})")
    params = jax.tree.map(jnp.asarray, params)

    def expert_fn(key: jax.Array, obs: jnp.ndarray) -> jnp.ndarray:
        return policy.act(params, key, obs, deterministic=deterministic)

    return expert_fn, meta
