"""The absorbing state (DAC, Kostrikov et al. 2019) shared by discriminator networks.

A terminal transition leads to an absorbing state that loops on itself forever. A
network's input carries an absorbing flag (0 for real transitions); the absorbing state
is the input with the flag set and zeros elsewhere, so the network learns its score like
any other input's. RL code bootstraps nothing after a terminal state, so the absorbing
state's discounted value, gamma / (1 - gamma) * r_abs, is folded into the terminal
transition's reward: returns are exactly those of the infinite absorbing loop, and a
learned reward neither pays for ending episodes nor for prolonging them unless the expert
does the same.
"""

from __future__ import annotations

import jax.numpy as jnp


def real_flag(batch_shape: tuple[int, ...]) -> jnp.ndarray:
    """f32[*batch_shape, 1] of zeros: the flag column of real (non-absorbing) inputs."""
    return jnp.zeros((*batch_shape, 1))


def absorbing_input(input_dim: int) -> jnp.ndarray:
    """f32[input_dim]: the absorbing state's input (zeros, the last column the flag set)."""
    return jnp.zeros(input_dim).at[-1].set(1.0)


def absorbing_value(per_step: jnp.ndarray, terminated: jnp.ndarray, gamma: float) -> jnp.ndarray:
    """Discounted value of the absorbing loop after each terminal transition.

    per_step: f32[] the absorbing state's per-step reward (or loss); terminated: [...]
    -> f32[...], `gamma / (1 - gamma) * per_step` where terminated, else 0.
    """
    return jnp.asarray(terminated, jnp.float32) * gamma / (1.0 - gamma) * per_step
