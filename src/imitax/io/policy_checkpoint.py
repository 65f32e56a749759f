"""Saving and loading policies (and learned rewards) as imitax checkpoints.

A policy checkpoint holds `{"net": flax params, "obs_norm": {mean, var, count}}` in
params.msgpack and, in meta.json, `kind: "policy"`, the env spec and the network
config, so it loads into the same architecture with no code from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from imitax.envs.spec import EnvSpec
from imitax.errors import CheckpointError
from imitax.io.checkpoint import META_FILE, load_checkpoint, require_finite, save_checkpoint
from imitax.nets.policy import Policy
from imitax.nets.squashed_policy import SquashedGaussianPolicy
from imitax.schema import Fields

# meta.json's policy "kind" (absent: the Gaussian/categorical `Policy`)
POLICY_KINDS: dict[str, type[Policy] | type[SquashedGaussianPolicy]] = {"squashed_gaussian": SquashedGaussianPolicy}


def save_policy(path: str | Path, policy: Policy | SquashedGaussianPolicy, params: dict[str, Any], **metadata: Any) -> Path:
    meta = {"kind": "policy", "env_spec": policy.spec.to_dict(), "policy": policy.config(), **metadata}
    return save_checkpoint(path, params, meta)


UNCHECKED_TEMPLATE_BYTES = 64 * 2**20


def check_policy_fits(policy_spec: EnvSpec, env_spec: EnvSpec, source: str | Path) -> None:
    """Raise CheckpointError unless the policy loaded from `source` was made for `env_spec`'s
    environment and spaces (its meta.json names them; a policy of other spaces cannot act there)."""
    saved = policy_spec
    if (saved.env_id, saved.obs_dim, saved.action_space) != (env_spec.env_id, env_spec.obs_dim, env_spec.action_space):
        raise CheckpointError(f"{source} is a policy for {saved.env_id} (obs {saved.obs_dim}, {saved.action_space}); "
                              f"expected one for {env_spec.env_id} (obs {env_spec.obs_dim}, {env_spec.action_space})")


def load_policy(path: str | Path) -> tuple[Policy | SquashedGaussianPolicy, dict[str, Any], dict[str, Any]]:
    """(policy, params, metadata) from a policy checkpoint folder or a run folder holding one."""
    path = Path(path)
    if (path / "checkpoint").is_dir():
        path = path / "checkpoint"
    stored, meta = load_checkpoint(path)
    policy = read_policy_meta(path, meta)
    # shapes only: a meta.json naming a network far larger than the weights must not allocate it
    # (a modest one is allocated and refused with its first mismatching shape by load_checkpoint)
    expected, found = _size(jax.eval_shape(policy.init, jax.random.PRNGKey(0))), _size(stored)
    if expected > found and expected * 4 > UNCHECKED_TEMPLATE_BYTES:
        raise CheckpointError(f"{path}: meta.json describes a policy of {expected:,} parameters (hidden sizes "
                              f"{list(policy.hidden_sizes)}); the weights file holds {found:,}; expected the "
                              "architecture the weights were saved with")
    template = policy.init(jax.random.PRNGKey(0))
    params, meta = load_checkpoint(path, template=template)
    require_finite(path, params)
    return policy, params, meta


def read_policy_meta(path: Path, meta: dict[str, Any]) -> Policy | SquashedGaussianPolicy:
    """The policy a policy checkpoint's meta.json describes, every field read through its schema:
    kind "policy"; env_spec (see `EnvSpec.from_fields`); policy {kind: absent or one of
    POLICY_KINDS, hidden_sizes, activation, and the Gaussian's init_log_std}; expert_return and
    random_return finite numbers or null (`imitax eval` normalises with them).

    Raises:
        CheckpointError: naming meta.json, the field, its value and what was expected."""
    if meta.get("kind") != "policy":
        raise CheckpointError(f"{path}: checkpoint kind is {meta.get('kind')!r}; expected a 'policy' checkpoint")
    fields = Fields(meta, path / META_FILE)
    spec = EnvSpec.from_fields(fields.section("env_spec"))
    config = fields.section("policy")
    kind = config.text("kind", default=None, choices=tuple(POLICY_KINDS))
    for reference in ("expert_return", "random_return"):
        fields.number(reference, default=None)
    return POLICY_KINDS.get(kind, Policy).from_config(spec, config)


def _size(tree: Any) -> int:
    """Number of array elements in a pytree of arrays or shape structs; a damaged weights file's
    leaves may be plain numbers or bytes, which count as one (its structure is refused later)."""
    return sum(int(np.prod(np.shape(leaf))) for leaf in jax.tree.leaves(tree))
