"""Networks: action distributions per space, observation normaliser, discriminator inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imitax.algos.bc import BCConfig
from imitax.data.types import Transitions
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import ConfigError
from imitax.nets.discriminator import Discriminator
from imitax.nets.normalizer import ObsNormalizer
from imitax.nets.policy import Policy

CARTPOLE = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
PENDULUM = EnvSpec("Pendulum-v1", 3, Box((-2.0,), (2.0,)), 200)


def test_categorical_policy_shapes_and_mode():
    policy = Policy(CARTPOLE)
    params = policy.init(jax.random.PRNGKey(0))
    obs = jnp.ones((5, 4))
    actions = policy.act(params, jax.random.PRNGKey(1), obs)
    assert actions.shape == (5,) and actions.dtype == jnp.int32
    dist = policy.distribution(params, obs)
    np.testing.assert_array_equal(policy.act(params, None, obs, deterministic=True), jnp.argmax(dist.logits, -1))


def test_gaussian_policy_clip_and_log_std():
    policy = Policy(PENDULUM, init_log_std=-0.5)
    params = policy.init(jax.random.PRNGKey(0))
    dist = policy.distribution(params, jnp.zeros((7, 3)))
    assert dist.mean.shape == dist.std.shape == (7, 1)
    np.testing.assert_allclose(np.asarray(dist.std), np.exp(-0.5), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(policy.clip(jnp.array([[5.0], [-3.0], [0.5]]))), [[2.0], [-2.0], [0.5]])


def test_normalizer_matches_numpy_statistics():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 3)).astype(np.float32)
    norm = ObsNormalizer.identity(3).update(data[:400]).update(data[400:])
    np.testing.assert_allclose(np.asarray(norm.mean), data.mean(0), rtol=1e-3)
    np.testing.assert_allclose(np.asarray(norm.var), data.var(0), rtol=1e-3)
    normalised = np.asarray(norm(data))
    assert abs(normalised.mean()) < 1e-2 and abs(normalised.std() - 1) < 1e-2


@pytest.mark.parametrize("spec, next_obs", [(CARTPOLE, False), (CARTPOLE, True), (PENDULUM, False)])
def test_discriminator_features(spec, next_obs):
    disc = Discriminator(spec, (16,), use_next_obs=next_obs)
    n = 6
    actions = jnp.arange(n) % 2 if spec.discrete else jnp.linspace(-4, 4, n)[:, None]
    tr = Transitions(jnp.ones((n, spec.obs_dim)), actions, jnp.zeros(n), jnp.ones((n, spec.obs_dim)),
                     jnp.zeros(n, bool), jnp.zeros(n, bool))
    params = disc.init(jax.random.PRNGKey(0), ObsNormalizer.identity(spec.obs_dim))
    features = disc.features(params["obs_norm"], tr)
    assert features.shape == (n, disc.input_dim)
    if spec.discrete:
        np.testing.assert_array_equal(np.asarray(features[:, spec.obs_dim:spec.obs_dim + 2]), np.eye(2)[np.arange(n) % 2])
    else:
        assert float(jnp.abs(features[:, spec.obs_dim]).max()) <= 1.0  # clipped to the bounds, scaled
    assert disc.logits(params, tr).shape == (n,)


def test_bc_config_validation():
    with pytest.raises(ConfigError, match="learning_rate"):
        BCConfig(learning_rate=0.0).validate()
    with pytest.raises(ConfigError, match="l2_coef"):
        BCConfig(l2_coef=-1.0).validate()


def test_airl_shaping_is_masked_after_termination():
    from imitax.nets.airl_reward import AIRLRewardNet

    net = AIRLRewardNet(CARTPOLE, (8,), gamma=0.9)
    params = net.init(jax.random.PRNGKey(0), ObsNormalizer.identity(4))
    obs, next_obs = jnp.ones((2, 4)), 2 * jnp.ones((2, 4))
    tr = Transitions(obs, jnp.zeros(2, jnp.int32), jnp.zeros(2), next_obs, jnp.array([False, True]), jnp.zeros(2, bool))
    f = net.shaped_reward(params, tr)
    g = net.step_reward(params, tr)
    h = lambda x: net.net.apply(params["net"], x, method="h")  # noqa: E731
    np.testing.assert_allclose(np.asarray(f[0]), np.asarray(g[0] + 0.9 * h(next_obs[:1])[0] - h(obs[:1])[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(f[1]), np.asarray(g[1] - h(obs[1:])[0]), rtol=1e-5)


def test_airl_absorbing_state_value_is_folded_into_terminal_rewards():
    from imitax.nets.airl_reward import AIRLRewardNet

    net = AIRLRewardNet(CARTPOLE, (8,), gamma=0.9)
    params = net.init(jax.random.PRNGKey(0), ObsNormalizer.identity(4))
    g_abs = net.absorbing_reward(params)
    tr = Transitions(jnp.ones((2, 4)), jnp.zeros(2, jnp.int32), jnp.zeros(2), 2 * jnp.ones((2, 4)),
                     jnp.array([False, True]), jnp.zeros(2, bool))
    g = net.step_reward(params, tr)
    reward = net.reward(params, tr)
    assert g_abs.shape == () and abs(float(g_abs)) > 1e-4
    # after the terminal transition the absorbing state pays g_abs per step forever: 0.9 / 0.1 * g_abs
    np.testing.assert_allclose(np.asarray(reward), np.asarray(g + jnp.array([0.0, 9.0]) * g_abs), rtol=1e-5)
    plain = AIRLRewardNet(CARTPOLE, (8,), gamma=0.9, absorbing=False)
    plain_params = plain.init(jax.random.PRNGKey(0), ObsNormalizer.identity(4))
    assert plain_params["net"]["params"]["reward"]["Dense_0"]["kernel"].shape == (4, 8)
    np.testing.assert_allclose(np.asarray(plain.reward(plain_params, tr)), np.asarray(plain.step_reward(plain_params, tr)))
