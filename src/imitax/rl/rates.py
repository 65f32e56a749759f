"""Adam whose learning rate is optimizer state, not a compile-time constant.

The rate sits in the optimizer state (`optax.inject_hyperparams`), so a compiled training
program takes it as data: runs that differ only in their rates share one program, and a sweep
vmaps over rates (`imitax.api.sweep`) by setting each run's rate after `init`. A linear decay
to zero, where a learner wants one, is a schedule built from the state's rate at every step.

Two kinds of rate, told apart by their name in the state: a configured rate ("learning_rate")
is the config's value and stays it, so a resumed run takes the rate its (possibly changed)
config gives (`keep_configured_rates`); an adaptive rate ("adaptive_learning_rate", PPO's
`target_kl`) is learner state that only starts at the config's value, so a resumed run keeps
the saved one.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from optax import tree_utils

CONFIGURED = "learning_rate"
ADAPTIVE = "adaptive_learning_rate"


# Only the rate is state: b1, b2 and eps stay compiled-in constants, so that the arithmetic
# is exactly optax.adam's with the rate compiled in (state copies of them round differently).
def _adam(learning_rate: Any, eps: float) -> optax.GradientTransformation:
    return optax.adam(learning_rate, eps=eps)


def _adaptive_adam(adaptive_learning_rate: Any, eps: float) -> optax.GradientTransformation:
    return optax.adam(adaptive_learning_rate, eps=eps)


def _decayed_adam(learning_rate: Any, eps: float, decay_steps: int) -> optax.GradientTransformation:
    # the schedule is built from the state's rate at every step
    return optax.adam(optax.linear_schedule(learning_rate, 0.0, decay_steps), eps=eps)


def adam(learning_rate: float, decay_steps: int | None = None, eps: float = 1e-8,
         adaptive: bool = False) -> optax.GradientTransformation:
    """Adam at `learning_rate`, held in the state (see `rate`, `with_rate`); with
    `decay_steps`, decayed linearly to zero over that many steps; `adaptive`: a rate the
    learner changes as it trains (kept, not reset, on resume; never decayed). Bit for bit
    what `optax.adam(learning_rate or its linear schedule, eps=eps)` computes."""
    if adaptive:
        return optax.inject_hyperparams(_adaptive_adam, static_args=("eps",))(adaptive_learning_rate=learning_rate,
                                                                                eps=eps)
    if decay_steps is None:
        return optax.inject_hyperparams(_adam, static_args=("eps",))(learning_rate=learning_rate, eps=eps)
    return optax.inject_hyperparams(_decayed_adam, static_args=("eps", "decay_steps"))(
        learning_rate=learning_rate, eps=eps, decay_steps=decay_steps)


def rate(opt_state: optax.OptState) -> jnp.ndarray:
    """f32[]: the (undecayed) learning rate held in the state of one `adam` (or a chain holding one)."""
    adaptive = tree_utils.tree_get(opt_state, ADAPTIVE)
    return adaptive if adaptive is not None else tree_utils.tree_get(opt_state, CONFIGURED)


def with_rate(opt_state: optax.OptState, learning_rate: Any) -> optax.OptState:
    """The state with its `adam`'s learning rate replaced (a float or f32[]: traced in a vmapped init)."""
    name = ADAPTIVE if tree_utils.tree_get(opt_state, ADAPTIVE) is not None else CONFIGURED
    return tree_utils.tree_set(opt_state, **{name: jnp.asarray(learning_rate, jnp.float32)})


def keep_configured_rates(restored: Any, template: Any) -> Any:
    """`restored` (a saved training state) with every configured rate taken from `template` (a
    fresh state of the same structure, made from the run's config): a resumed run trains at the
    rate its config now gives, as it did when rates were compiled in. Adaptive rates stay saved."""
    def pick(path: tuple[Any, ...], fresh: Any, saved: Any) -> Any:
        names = [getattr(entry, "key", getattr(entry, "name", None)) for entry in path]
        return fresh if len(names) >= 2 and names[-2:] == ["hyperparams", CONFIGURED] else saved

    return jax.tree_util.tree_map_with_path(pick, template, restored)
