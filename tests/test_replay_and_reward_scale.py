"""The discriminator's reservoir of past agent transitions and PPO's reward scaling."""

import jax
import jax.numpy as jnp
import numpy as np

from imitax.data.replay import Reservoir
from imitax.data.types import Transitions
from imitax.rl.reward_scale import RewardScaler


def _transitions(values: np.ndarray) -> Transitions:
    n = values.shape[0]
    obs = jnp.asarray(values, jnp.float32)[:, None].repeat(2, axis=1)
    return Transitions(obs, jnp.zeros(n, jnp.int32), jnp.zeros(n), obs, jnp.zeros(n, bool), jnp.zeros(n, bool))


def test_reservoir_keeps_everything_until_full_then_a_uniform_sample():
    reservoir = Reservoir.allocate(_transitions(np.zeros(1)), capacity=100)
    reservoir = reservoir.add(jax.random.PRNGKey(0), _transitions(np.arange(60.0)))
    np.testing.assert_array_equal(np.asarray(reservoir.items.obs[:60, 0]), np.arange(60.0))
    assert int(reservoir.seen) == 60
    sample = reservoir.sample(jax.random.PRNGKey(1), 500)
    assert float(sample.obs.max()) < 60  # only filled slots are drawn

    # 10,000 items in 100 batches: every part of the stream keeps its share of the slots
    key = jax.random.PRNGKey(2)
    reservoir = Reservoir.allocate(_transitions(np.zeros(1)), capacity=2000)
    for batch in range(100):
        key, add_key = jax.random.split(key)
        reservoir = reservoir.add(add_key, _transitions(np.arange(100.0) + 100 * batch))
    kept = np.asarray(reservoir.items.obs[:, 0])
    assert int(reservoir.seen) == 10_000 and len(np.unique(kept)) == 2000
    counts, _ = np.histogram(kept, bins=10, range=(0, 10_000))
    assert counts.min() > 150 and counts.max() < 250, counts  # 200 expected per tenth of the stream


def test_reward_scaler_tracks_discounted_returns_and_does_not_shift():
    rewards = jnp.full((50, 2), 3.0)
    dones = jnp.zeros((50, 2)).at[24].set(1.0)
    scaler = RewardScaler.init(2).update(rewards, dones, gamma=0.9)
    # the running return restarts after an episode end: at the end it is 25 steps into an episode
    np.testing.assert_allclose(np.asarray(scaler.returns), 3.0 * (1 - 0.9**25) / 0.1, rtol=1e-5)
    expected = np.concatenate([3.0 * (1 - 0.9 ** np.arange(1, 26)) / 0.1] * 2)
    scaled = np.asarray(scaler(jnp.asarray([3.0, -6.0])))
    np.testing.assert_allclose(scaled, np.array([3.0, -6.0]) / expected.std(), rtol=1e-3)
