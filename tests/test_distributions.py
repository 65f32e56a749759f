"""The action distributions against scipy: densities, entropies, modes, draws, shapes, and
the squashed Gaussian's change of variables up to its bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from imitax.nets.distributions import Categorical, DiagGaussian, SquashedGaussian

RNG = np.random.default_rng(0)


def _f32(x):
    return jnp.asarray(x, jnp.float32)


@pytest.mark.parametrize("batch", [(6,), (4, 3)])
def test_categorical_matches_scipy(batch):
    logits = RNG.normal(0.0, 3.0, batch + (5,))
    dist = Categorical(_f32(logits))
    log_p = logits - special.logsumexp(logits, axis=-1, keepdims=True)
    actions = RNG.integers(0, 5, batch)
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(actions)), np.take_along_axis(log_p, actions[..., None], -1)[..., 0],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dist.entropy(), stats.entropy(np.exp(log_p), axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(), logits.argmax(-1))
    assert dist.mode().dtype == dist.sample(jax.random.PRNGKey(0)).dtype == jnp.int32
    assert dist.sample(jax.random.PRNGKey(0)).shape == dist.log_prob(jnp.asarray(actions)).shape == batch
    outside = jnp.full(batch, 5).at[..., 0].set(-1)
    assert bool(jnp.all(dist.log_prob(outside) == -jnp.inf))


def test_categorical_draws_follow_the_probabilities():
    logits = np.log([0.1, 0.2, 0.7])
    draws = Categorical(_f32(np.broadcast_to(logits, (20_000, 3)))).sample(jax.random.PRNGKey(1))
    counts = np.bincount(np.asarray(draws), minlength=3)
    assert stats.chisquare(counts, 20_000 * np.exp(logits)).pvalue > 1e-3


@pytest.mark.parametrize("batch", [(6,), (4, 3)])
def test_diag_gaussian_matches_scipy(batch):
    mean, std = RNG.normal(0.0, 2.0, batch + (2,)), np.exp(RNG.normal(0.0, 1.0, batch + (2,)))
    dist = DiagGaussian(_f32(mean), _f32(std))
    x = RNG.normal(0.0, 3.0, batch + (2,))
    np.testing.assert_allclose(dist.log_prob(_f32(x)), stats.norm.logpdf(x, mean, std).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dist.entropy(), stats.norm.entropy(mean, std).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dist.mode(), mean, rtol=1e-6)
    assert dist.sample(jax.random.PRNGKey(0)).shape == batch + (2,) and dist.log_prob(_f32(x)).shape == batch


def test_diag_gaussian_draws_are_normal():
    draws = np.asarray(DiagGaussian(_f32([[1.0, -2.0]] * 20_000), _f32([[0.5, 3.0]] * 20_000)).sample(jax.random.PRNGKey(2)))
    assert stats.kstest(draws[:, 0], stats.norm(1.0, 0.5).cdf).pvalue > 1e-3
    assert stats.kstest(draws[:, 1], stats.norm(-2.0, 3.0).cdf).pvalue > 1e-3


def test_draws_are_pinned_to_the_key():
    """Saved runs replay only if the same key draws the same numbers (as distrax drew them)."""
    key = jax.random.PRNGKey(3)
    mean, std, logits = _f32(RNG.normal(size=(8, 2))), _f32(np.exp(RNG.normal(size=(8, 2)))), _f32(RNG.normal(size=(8, 4)))
    np.testing.assert_array_equal(DiagGaussian(mean, std).sample(key), std * jax.random.normal(key, (8, 2)) + mean)
    np.testing.assert_array_equal(Categorical(logits).sample(key), jax.random.categorical(key, jax.nn.log_softmax(logits)))
    low, high = _f32([-1.0, 0.0]), _f32([3.0, 1.0])
    u = std * jax.random.normal(key, (8, 2)) + mean
    np.testing.assert_array_equal(SquashedGaussian(mean, std, low, high).sample(key),
                                  (high - low) / 2 * jnp.tanh(u) + (high + low) / 2)


def _squashed_log_density_of_u(u, mean, std, low, high):
    """float64 change of variables at a = mid + half_range * tanh(u): log N(u) - log|da/du|,
    with log(1 - tanh(u)^2) = -2 log cosh(u) (numpy's logaddexp keeps it finite for large |u|)."""
    log_cosh = np.logaddexp(u, -u) - np.log(2)
    return (stats.norm.logpdf(u, mean, std) - np.log((high - low) / 2) + 2 * log_cosh).sum(-1)


def _squashed_log_density(a, mean, std, low, high):
    u = np.arctanh((a - (high + low) / 2) / ((high - low) / 2))
    return _squashed_log_density_of_u(u, mean, std, low, high)


@pytest.mark.parametrize("batch", [(6,), (4, 3)])
def test_squashed_gaussian_log_prob_is_the_change_of_variables(batch):
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    mean, std = RNG.normal(0.0, 1.0, batch + (2,)), np.exp(RNG.uniform(-2.0, 0.5, batch + (2,)))
    dist = SquashedGaussian(_f32(mean), _f32(std), _f32(low), _f32(high))
    a = low + (high - low) * RNG.uniform(0.01, 0.99, batch + (2,))
    np.testing.assert_allclose(dist.log_prob(_f32(a)), _squashed_log_density(a, mean, std, low, high), rtol=1e-4, atol=1e-4)
    actions, log_prob = dist.sample_and_log_prob(jax.random.PRNGKey(4))
    assert actions.shape == batch + (2,) and log_prob.shape == batch
    np.testing.assert_allclose(log_prob, _squashed_log_density(np.asarray(actions, np.float64), mean, std, low, high),
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dist.mode(), np.tanh(mean) * (high - low) / 2 + (high + low) / 2, rtol=1e-5, atol=1e-5)


def test_squashed_gaussian_density_integrates_to_one_and_draws_follow_it():
    low, high, mean, std = -1.0, 3.0, 0.4, 0.8
    dist = SquashedGaussian(_f32([[mean]]), _f32([[std]]), _f32([low]), _f32([high]))
    density = jax.jit(lambda a: jnp.exp(dist.log_prob(a)))
    total, _ = integrate.quad(lambda a: float(density(_f32([[a]]))[0]), low, high, limit=200)
    assert abs(total - 1.0) < 1e-4
    draws = np.asarray(SquashedGaussian(_f32([[mean]] * 20_000), _f32([[std]] * 20_000), _f32([low]), _f32([high]))
                       .sample(jax.random.PRNGKey(5)))[:, 0]
    cdf = lambda a: stats.norm.cdf(np.arctanh((a - 1.0) / 2.0), mean, std)  # noqa: E731  mid 1, half range 2
    assert stats.kstest(draws, cdf).pvalue > 1e-3


def test_squashed_gaussian_is_finite_at_its_bounds():
    """A mean far out saturates tanh: actions round onto a bound, where the density is
    infinite; sample_and_log_prob stays finite (no atanh), and log_prob stays finite for
    actions pulled just inside the bounds (what SACGenerator.log_prob does)."""
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    mean = _f32([[-30.0, 30.0], [12.0, -12.0], [0.0, 0.0]])
    dist = SquashedGaussian(mean, _f32(np.full((3, 2), 0.01)), _f32(low), _f32(high))
    actions, log_prob = dist.sample_and_log_prob(jax.random.PRNGKey(6))
    assert bool(jnp.all(jnp.isfinite(log_prob)))
    assert bool(jnp.all((actions >= low) & (actions <= high)))
    np.testing.assert_array_equal(actions[0], [-2.0, 10.0])  # rounded onto the bounds
    # the log-derivative at the pre-squash sample counts, not the action rounded onto the bound
    u = np.asarray(mean, np.float64) + 0.01 * np.asarray(jax.random.normal(jax.random.PRNGKey(6), (3, 2)), np.float64)
    np.testing.assert_allclose(log_prob, _squashed_log_density_of_u(u, np.asarray(mean, np.float64), 0.01, low, high),
                               rtol=1e-5)
    margin = 1e-4 * (high - low)
    inside = _f32(np.stack([low + margin, high - margin, (low + high) / 2]))
    assert bool(jnp.all(jnp.isfinite(dist.log_prob(inside))))
