"""Action distributions: categorical, diagonal Gaussian, tanh-squashed Gaussian.

A few lines of our own in place of distrax (which installs a nightly TensorFlow
Probability). Each draws exactly the numbers distrax drew for the same key and computes
its densities in the same order of operations, so runs made with distrax replay
unchanged. They are plain classes, built and used inside jitted functions; none crosses
a jit or vmap boundary.

Shapes: a distribution has a batch shape `[...]` (one per observation); a Categorical's
events are scalars i32[...], a Gaussian's vectors f32[..., action_dim]. `log_prob` and
`entropy` return f32[...].
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Categorical:
    """Categorical over {0, ..., n-1} from unnormalised logits f32[..., n]."""

    def __init__(self, logits: jnp.ndarray):
        self.logits = jax.nn.log_softmax(logits, axis=-1)  # normalised log-probabilities

    def sample(self, key: jax.Array) -> jnp.ndarray:
        """i32[...]."""
        return jax.random.categorical(key, self.logits, axis=-1).astype(jnp.int32)

    def log_prob(self, actions: jnp.ndarray) -> jnp.ndarray:
        """actions: int[...] -> f32[...]; -inf outside {0, ..., n-1}."""
        num_categories = self.logits.shape[-1]
        one_hot = actions[..., None] == jnp.arange(num_categories)
        log_prob = jnp.sum(jnp.where(one_hot, self.logits, 0.0), axis=-1)
        return jnp.where((actions < 0) | (actions > num_categories - 1), -jnp.inf, log_prob)

    def entropy(self) -> jnp.ndarray:
        # log_softmax again (distrax did), so entropies and their gradients are bitwise the same
        log_probs = jax.nn.log_softmax(self.logits, axis=-1)
        probs = jnp.exp(log_probs)
        return -jnp.sum(jnp.where(probs == 0, 0.0, log_probs) * probs, axis=-1)

    def mode(self) -> jnp.ndarray:
        """The most likely action, i32[...]."""
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)


class DiagGaussian:
    """Independent normals per action dimension: mean, std f32[..., action_dim]."""

    def __init__(self, mean: jnp.ndarray, std: jnp.ndarray):
        self.mean, self.std = jnp.broadcast_arrays(mean, std)
        # Computed once, as distrax did, and with its no-op abs: XLA then compiles a training
        # step to the same program and rounds exactly as it did (checked on whole PPO runs).
        self.log_std = jnp.log(jnp.abs(self.std))

    def sample_noise(self, key: jax.Array) -> jnp.ndarray:
        """Standard normal draws f32[..., action_dim]: the noise `sample` scales and shifts."""
        return jax.random.normal(key, self.mean.shape, self.mean.dtype)

    def sample(self, key: jax.Array) -> jnp.ndarray:
        """f32[..., action_dim], reparameterised: differentiable in mean and std."""
        return self.std * self.sample_noise(key) + self.mean

    def log_prob(self, actions: jnp.ndarray) -> jnp.ndarray:
        """actions: f32[..., action_dim] -> f32[...], summed over the last axis."""
        standardized = (1.0 / self.std) * (actions - self.mean)
        return jnp.sum(-0.5 * jnp.square(standardized) - HALF_LOG_2PI, axis=-1) - jnp.sum(self.log_std, axis=-1)

    def entropy(self) -> jnp.ndarray:
        return self.mean.shape[-1] * (0.5 + HALF_LOG_2PI) + jnp.sum(self.log_std, axis=-1)

    def mode(self) -> jnp.ndarray:
        return self.mean


def _log_abs_tanh_derivative(u: jnp.ndarray) -> jnp.ndarray:
    """log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)): finite where tanh(u) rounds to +-1."""
    return 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))


class SquashedGaussian:
    """a = mid + half_range * tanh(u), u ~ DiagGaussian(mean, std): actions strictly inside
    [low, high] (up to rounding), where mid = (high + low) / 2 and half_range = (high - low) / 2.

    mean, std: f32[..., action_dim]; low, high: f32[action_dim], finite.
    """

    def __init__(self, mean: jnp.ndarray, std: jnp.ndarray, low: jnp.ndarray, high: jnp.ndarray):
        self.gaussian = DiagGaussian(mean, std)
        self.mid, self.half_range = (high + low) / 2, (high - low) / 2
        self.log_half_range = jnp.log(jnp.abs(self.half_range))

    def squash(self, u: jnp.ndarray) -> jnp.ndarray:
        """f32[..., action_dim] unbounded -> in bounds."""
        return self.half_range * jnp.tanh(u) + self.mid

    def _log_det(self, u: jnp.ndarray) -> jnp.ndarray:
        """log |d squash(u) / du| summed over the last axis: f32[...]."""
        return jnp.sum(_log_abs_tanh_derivative(u) + self.log_half_range, axis=-1)

    def sample(self, key: jax.Array) -> jnp.ndarray:
        return self.squash(self.gaussian.sample(key))

    def sample_and_log_prob(self, key: jax.Array) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Reparameterised actions f32[..., action_dim] and their log-densities f32[...],
        from the pre-squash sample (no atanh, so finite even where the action rounds onto a bound)."""
        noise = self.gaussian.sample_noise(key)
        u = self.gaussian.std * noise + self.gaussian.mean
        log_prob_u = (jnp.sum(-0.5 * jnp.square(noise) - HALF_LOG_2PI, axis=-1)
                      - jnp.sum(self.gaussian.log_std, axis=-1))
        return self.squash(u), log_prob_u - self._log_det(u)

    def unsquash(self, actions: jnp.ndarray) -> jnp.ndarray:
        """The pre-squash u of in-bounds actions, f32[..., action_dim]; infinite on a bound."""
        return jnp.arctanh((1.0 / self.half_range) * (actions - self.mid))

    def log_prob(self, actions: jnp.ndarray) -> jnp.ndarray:
        """actions: f32[..., action_dim] -> f32[...]. Infinite or NaN on a bound (atanh(+-1));
        callers with actions that may sit there pull them inside first."""
        u = self.unsquash(actions)
        inverse_log_det = jnp.sum(-self.log_half_range - _log_abs_tanh_derivative(u), axis=-1)
        return self.gaussian.log_prob(u) + inverse_log_det

    def log_prob_unsquashed(self, actions: jnp.ndarray) -> jnp.ndarray:
        """The density of the actions' pre-squash u, f32[...]: `log_prob` without the squash's
        log-Jacobian, a term that depends on the action alone and grows without bound towards
        the bounds (same caveat on them)."""
        return self.gaussian.log_prob(self.unsquash(actions))

    def mode(self) -> jnp.ndarray:
        """The squashed mean (not the density's mode, which a squash moves): f32[..., action_dim]."""
        return self.squash(self.gaussian.mean)
