"""Multi-layer perceptrons with orthogonal initialisation (the PPO convention)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from imitax.errors import ConfigError
from imitax.schema import Fields

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu}



def check_network(hidden_sizes: Sequence[int], activation: str, *, hidden_name: str = "hidden_sizes",
                  activation_name: str = "activation") -> None:
    """Raise ConfigError (naming the field) unless every hidden width is a positive int and
    `activation` is one of `ACTIVATIONS`."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f"{activation_name} {activation!r} is unknown; expected one of {', '.join(ACTIVATIONS)}")
    for width in hidden_sizes:
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width <= 0:
            raise ConfigError(f"{hidden_name} {list(hidden_sizes)}: {width!r} is not a layer width; "
                              "expected positive integers")


def read_network(fields: Fields) -> tuple[tuple[int, ...], str]:
    """(hidden_sizes, activation) of a saved network entry, read through its schema: a list of
    integers >= 1 and one of `ACTIVATIONS`."""
    return fields.integers("hidden_sizes", low=1), fields.text("activation", choices=tuple(ACTIVATIONS))


class MLP(nn.Module):
    """`f32[..., in] -> f32[..., out_dim]`; hidden layers with `activation`.

    `out_scale` is the orthogonal gain of the last layer (0.01 for policy logits, 1.0 for values).
    """

    hidden_sizes: Sequence[int]
    out_dim: int
    activation: str = "tanh"
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        check_network(self.hidden_sizes, self.activation)
        act = ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = act(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return nn.Dense(self.out_dim, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)
