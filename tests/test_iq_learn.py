"""IQ-Learn: its objective's pieces, its recovered reward, and learning online and offline."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imitax
from imitax.algos.iq_learn import IQ_SAC, IQLearn, IQLearnConfig, train_iq_learn
from imitax.data.types import Transitions
from imitax.errors import ConfigError
from imitax.eval import evaluate, normalized_score
from imitax.io.resume import ResumeCheckpoint
from imitax.rl.implicit_reward import ImplicitReward
from imitax.rl.loop import seed_slice
from imitax.rl.sac import soft_value

from test_resume import Interrupted, assert_trees_equal, interrupt_after

SMALL = dict(hidden_sizes=(64, 64), batch_size=128, learning_starts=1_000)


def _score(bundle, result) -> float:
    params = seed_slice(result.state.sac, 0).policy_params
    mean = evaluate(bundle.env, lambda k, o: result.algo.policy.act(params, k, o, deterministic=True),
                    jax.random.PRNGKey(7), 20).mean
    return normalized_score(float(mean), bundle.random_score, bundle.expert_score)


def _batch(spec, n, key, terminated):
    obs_key, next_key, action_key = jax.random.split(key, 3)
    actions = jax.random.randint(action_key, (n,), 0, spec.action_space.n) if spec.discrete else \
        jax.random.uniform(action_key, (n, spec.action_dim), minval=-1.0, maxval=1.0)
    return Transitions(jax.random.normal(obs_key, (n, spec.obs_dim)), actions, jnp.zeros(n),
                       jax.random.normal(next_key, (n, spec.obs_dim)), terminated, jnp.zeros(n, bool))


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="iq_learn.value_loss is 'v1'"):
        IQLearnConfig(value_loss="v1").validate()
    with pytest.raises(ConfigError, match="offline run has none"):
        IQLearnConfig(offline=True, value_loss="value").validate()
    with pytest.raises(ConfigError, match="iq_learn.chi2_weight"):
        IQLearnConfig(chi2_weight=float("nan")).validate()
    with pytest.raises(ConfigError, match="iq_learn.grad_penalty"):
        IQLearnConfig(grad_penalty=-1.0).validate()
    with pytest.raises(ConfigError, match="iq_learn.expert_fraction"):
        IQLearnConfig(expert_fraction=0.0).validate()
    assert IQLearnConfig().resolved_value_loss == "v0"
    assert IQLearnConfig(offline=True).resolved_value_loss == "value_expert"
    assert IQLearnConfig(offline=True).expert_batch_size == IQLearnConfig().sac.batch_size


def test_saved_discrete_reward_is_q_minus_discounted_exact_soft_value():
    spec = imitax.make("CartPole-v1").spec
    algo = IQLearn(IQLearnConfig(sac=dataclasses.replace(IQ_SAC, hidden_sizes=(32,))), spec)
    state = algo.init(jax.random.PRNGKey(0), _batch(spec, 4, jax.random.PRNGKey(1), jnp.zeros(4, bool)))
    params, meta = algo.saved_reward(state)
    net = ImplicitReward(spec, tuple(meta["network"]["hidden_sizes"]), meta["network"]["activation"],
                         meta["network"]["gamma"], meta["network"]["num_critics"])
    terminated = jnp.array([False, True, False, True, False, False])
    batch = _batch(spec, 6, jax.random.PRNGKey(2), terminated)
    rewards = np.asarray(net.reward(params, batch))

    s = state.sac
    q = np.asarray(algo.sac.q_values(s.critic_params, s, batch).min(0))
    # V(s') = sum_a pi(a|s') (min_i Q_i(s', a) - alpha log pi(a|s')), computed here from the networks directly
    logits = algo.policy.distribution(s.policy_params, batch.next_obs).logits
    log_pi = np.asarray(jax.nn.log_softmax(logits))
    next_q = np.asarray(algo.sac.critics.all_values(s.critic_params, s.obs_norm(batch.next_obs)).min(0))
    alpha = float(np.exp(s.log_alpha))
    next_v = (np.exp(log_pi) * (next_q - alpha * log_pi)).sum(-1)
    expected = q - IQ_SAC.gamma * (1.0 - np.asarray(terminated)) * next_v
    np.testing.assert_allclose(rewards, expected, rtol=1e-4, atol=1e-5)
    # after a terminal transition nothing is bootstrapped: the reward is Q(s, a) itself
    np.testing.assert_allclose(rewards[np.asarray(terminated)], q[np.asarray(terminated)], rtol=1e-5)


def test_saved_box_reward_is_deterministic_and_keeps_leading_shape():
    spec = imitax.make("Pendulum-v1").spec
    net = ImplicitReward(spec, (32,), "relu", 0.99, 2)
    params = net.init(jax.random.PRNGKey(0), IQLearn(IQLearnConfig(), spec).sac.init(jax.random.PRNGKey(0)).obs_norm)
    batch = _batch(spec, 12, jax.random.PRNGKey(3), jnp.zeros(12, bool))
    grid = jax.tree.map(lambda x: x.reshape(3, 4, *x.shape[1:]), batch)
    first, again = net.reward(params, grid), net.reward(params, grid)
    assert first.shape == (3, 4)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
    np.testing.assert_allclose(np.asarray(first).reshape(-1), np.asarray(net.reward(params, batch)), rtol=1e-5)
    # one sampled V(s') scatters around the 16-sample mean the reward uses
    single = soft_value(net.sac, params["critics"], params["actor"], params["obs_norm"], params["log_alpha"],
                        jax.random.PRNGKey(9), batch.next_obs)
    assert np.isfinite(np.asarray(single)).all()


def test_a_gradient_step_raises_the_implicit_reward_of_expert_actions_over_others():
    """The first term of the objective: Q(s, a_expert) - gamma V(s') goes up on expert rows, and
    the discrete policy follows the critic."""
    spec = imitax.make("CartPole-v1").spec
    expert = _batch(spec, 64, jax.random.PRNGKey(4), jnp.zeros(64, bool))
    expert = expert.replace(actions=jnp.zeros(64, jnp.int32))  # the expert always pushes left
    config = IQLearnConfig(offline=True, sac=dataclasses.replace(IQ_SAC, hidden_sizes=(64,), batch_size=64,
                                                                 critic_learning_rate=1e-3))
    algo = IQLearn(config, spec)
    init = algo.init(jax.random.PRNGKey(5), expert)
    carry = (init.sac, init.absorbing)
    step = jax.jit(algo.gradient_step)  # op by op, 50 steps took 10 s
    for _ in range(50):
        carry, metrics = step(carry, expert, jnp.ones(64))
    state = carry[0]
    all_q = np.asarray(algo.sac.critics.all_values(state.critic_params, state.obs_norm(expert.obs)).min(0))
    assert (all_q[:, 0] > all_q[:, 1]).mean() > 0.95
    assert float(metrics["reward_expert"]) > 0.0
    # Discrete actions: the policy is softmax(Q / alpha) of the critic, exactly
    logits = np.asarray(algo.policy.distribution(state.policy_params, expert.obs).logits)
    expected = np.asarray(jax.nn.log_softmax(all_q / float(np.exp(state.log_alpha))))
    np.testing.assert_allclose(logits, expected, atol=1e-3)


def test_v0_value_term_is_one_minus_gamma_times_the_value_of_expert_states_alone():
    """value_loss "v0": (1 - gamma) E[V(s)] over the batch's expert rows (standing in for initial
    states), whatever the agent rows hold; Discrete actions make V exact."""
    spec = imitax.make("CartPole-v1").spec
    config = IQLearnConfig(value_loss="v0", sac=dataclasses.replace(IQ_SAC, hidden_sizes=(32,), batch_size=64))
    algo = IQLearn(config, spec)
    batch = _batch(spec, 64, jax.random.PRNGKey(6), jnp.zeros(64, bool))
    from_expert = (jnp.arange(64) < 32).astype(jnp.float32)
    init = algo.init(jax.random.PRNGKey(7), batch)
    _, metrics = algo.gradient_step((init.sac, init.absorbing), batch, from_expert)
    value = np.asarray(algo.sac.soft_value(init.sac.critic_params, init.sac, jax.random.PRNGKey(0), batch.obs))
    expected = (1.0 - config.sac.gamma) * value[:32].mean()
    assert abs(expected) > 1e-6
    np.testing.assert_allclose(float(metrics["value_term"]), expected, rtol=1e-4)
    other_agent = batch.replace(obs=batch.obs.at[32:].set(batch.obs[32:] + 3.0))
    _, moved = algo.gradient_step((init.sac, init.absorbing), other_agent, from_expert)
    np.testing.assert_allclose(float(moved["value_term"]), float(metrics["value_term"]), rtol=1e-6)


def test_absorbing_value_steps_in_reward_units_and_stays_zero_where_the_expert_never_ends():
    """V_abs is 1 / (1 - gamma) times a per-step reward: each Adam step moves it by about the
    critics' rate over (1 - gamma), not the rate alone. Where no expert row is terminal (only
    the agent's falls), its gradient is 0 at 0 and it stays exactly 0."""
    spec = imitax.make("CartPole-v1").spec
    config = IQLearnConfig(sac=dataclasses.replace(IQ_SAC, hidden_sizes=(32,), batch_size=64))
    algo = IQLearn(config, spec)
    from_expert = (jnp.arange(64) < 32).astype(jnp.float32)
    rate, gamma = config.sac.critic_learning_rate, config.sac.gamma
    goal = _batch(spec, 64, jax.random.PRNGKey(8), jnp.arange(64) % 8 == 0)  # expert and agent rows end
    init = algo.init(jax.random.PRNGKey(9), goal)
    carry = (init.sac, init.absorbing)
    for _ in range(3):
        carry, _ = algo.gradient_step(carry, goal, from_expert)
    # the expert ends its episodes: ending is pushed up, by Adam's ~rate per step in reward units
    np.testing.assert_allclose(np.asarray(carry[1].value), 3 * rate / (1.0 - gamma), rtol=0.05)
    falls = _batch(spec, 64, jax.random.PRNGKey(8), (jnp.arange(64) >= 32) & (jnp.arange(64) % 8 == 0))
    carry = (init.sac, init.absorbing)
    for _ in range(3):
        carry, _ = algo.gradient_step(carry, falls, from_expert)
    np.testing.assert_array_equal(np.asarray(carry[1].value), 0.0)


def test_iq_learn_learns_cartpole_online(cartpole_expert):
    # A 128x128 critic at 6k env steps: seeds 0, 1, 2 (each alone) score 1.00 (2026-11-29); at 64x64
    # two seeds of 10k steps stopped at 9 and 61 (expert 500); the default 256x256 took 2-3 times as long.
    config = IQLearnConfig.for_env("CartPole-v1", sac=dict(total_steps=6_000, batch_size=128, learning_starts=1_000,
                                                           hidden_sizes=(128, 128)))
    result = train_iq_learn(cartpole_expert.env, cartpole_expert.demos, config, seed=0)
    assert result.env_steps == 6_000
    assert _score(cartpole_expert, result) > 0.8


def test_offline_iq_learn_learns_cartpole_without_stepping_the_env(cartpole_expert):
    config = IQLearnConfig.for_env("CartPole-v1", offline=True, sac=dict(total_steps=3_000, **SMALL))
    result = train_iq_learn(cartpole_expert.env, cartpole_expert.demos, config, seed=0)
    assert result.env_steps == 0 and result.gradient_steps == 3_000
    assert "episode_return" not in result.history and result.history["critic_loss"].shape == (1, 3_000)
    assert _score(cartpole_expert, result) > 0.8


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_interrupted_iq_learn_run_resumes_bit_exact(tmp_path, cartpole_expert, offline):
    """The absorbing value, the critic and (online) the replay are all in what is saved."""
    config = IQLearnConfig(offline=offline, sac=dataclasses.replace(IQ_SAC, total_steps=600, learning_starts=200,
                                                                    batch_size=32, hidden_sizes=(16,)))
    args = (cartpole_expert.env, cartpole_expert.demos, config)
    uninterrupted = train_iq_learn(*args, seed=1, num_seeds=2)
    with pytest.raises(Interrupted):
        train_iq_learn(*args, seed=1, num_seeds=2, on_chunk=interrupt_after(150),
                       checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    resumed = train_iq_learn(*args, seed=1, num_seeds=2, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    assert_trees_equal(uninterrupted.state, resumed.state)
    for name, values in uninterrupted.history.items():
        np.testing.assert_array_equal(values, resumed.history[name])
