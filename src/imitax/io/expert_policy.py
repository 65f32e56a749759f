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
from imitax.errors import CheckpointError
from imitax.io.policy_checkpoint import check_policy_fits, load_policy


def load_expert(path: str | Path, spec: EnvSpec, deterministic: bool = True) -> tuple[ExpertFn, dict[str, Any]]:
    """(expert_fn, checkpoint metadata) from a policy checkpoint folder or a run folder holding one.

    Raises:
        CheckpointError: nothing there, not a policy checkpoint, or a policy made for another
            environment or other spaces than `spec`.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"expert {path} does not exist; expected a run folder of `imitax expert` "
                              "or its checkpoint/ folder")
    policy, params, meta = load_policy(path)
    check_policy_fits(policy.spec, spec, f"expert {path}")
    params = jax.device_put(params)

    def expert_fn(key: jax.Array, obs: jnp.ndarray) -> jnp.ndarray:
        return policy.act(params, key, obs, deterministic=deterministic)

    return expert_fn, meta
