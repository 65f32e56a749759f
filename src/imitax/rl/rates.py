"""Adam whose learning rate is optimizer state, not a compile-time constant.

The rate sits in the optimizer state (`optax.inject_hyperparams`), so a compiled training
program takes it as data: runs that differ only in their rates share one program, and a sweep
vmaps over rates (`imitax.algos.sweep`) by setting each run's rate after `init`. A linear decay
to zero, where a learner wants one, multiplies the rate by a schedule of the step count.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax
from optax import tree_utils


def adam(learning_rate: float, decay_steps: int | None = None, eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam at `learning_rate`, held in the state (see `rate`, `with_rate`); with
    `decay_steps`, scaled by 1 - step / decay_steps (zero after)."""
    rated = optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, eps=eps)
    if decay_steps is None:
        return rated
    return optax.chain(rated, optax.scale_by_schedule(optax.linear_schedule(1.0, 0.0, decay_steps)))


def rate(opt_state: optax.OptState) -> jnp.ndarray:
    """f32[]: the (undecayed) learning rate held in the state of one `adam` (or a chain holding one)."""
    return tree_utils.tree_get(opt_state, "learning_rate")


def with_rate(opt_state: optax.OptState, learning_rate: Any) -> optax.OptState:
    """The state with its `adam`'s learning rate replaced (a float or f32[]: traced in a vmapped init)."""
    return tree_utils.tree_set(opt_state, learning_rate=jnp.asarray(learning_rate, jnp.float32))
