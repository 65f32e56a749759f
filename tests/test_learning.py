"""End-to-end learning on CartPole-v1 from 10 expert episodes, fixed seeds, both backends.

Thresholds are the issue's: normalised return >= 0.95 (random = 0, expert = 1).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imitax
from imitax.algos.airl import REWARD_KEEPING_DISC_LEARNING_RATE, AIRLConfig, train_airl
from imitax.algos.bc import BC, BCConfig, train_bc
from imitax.algos.gail import GAILConfig, train_gail
from imitax.nets.discriminator import reward_from_logits
from imitax.data.types import flatten_trajectories
from imitax.envs.spec import Discrete, EnvSpec
from imitax.eval import evaluate, normalized_score
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo


def _score(env, policy, params, bundle, episodes=50):
    result = evaluate(env, lambda k, o: policy.act(params, k, o, deterministic=True), jax.random.PRNGKey(11), episodes)
    return normalized_score(result.mean, bundle.random_score, bundle.expert_score)


def test_expert_is_an_expert(cartpole_expert):
    assert cartpole_expert.expert_score >= 475.0
    assert cartpole_expert.random_score < 40.0


@pytest.mark.parametrize("backend", ["jax", "gymnasium"])
def test_bc_reaches_expert_on_cartpole(cartpole_expert, backend):
    env = imitax.make("CartPole-v1", backend=backend)
    result = train_bc(cartpole_expert.demos, env.spec, BCConfig(num_steps=1000, log_every=250), seed=0,
                      eval_env=env if backend == "jax" else None)
    score = _score(env, result.bc.policy, seed_slice(result.params, 0), cartpole_expert)
    assert score >= 0.95, score
    assert result.gradient_steps == 1000 and result.history["loss"].shape == (1, 4)  # a row per log point
    if backend == "jax":
        assert np.isfinite(result.history["episode_return"]).all()


def test_bc_from_one_episode_reaches_expert_on_cartpole(cartpole_expert):
    """The budget is gradient steps, not epochs: one episode (500 transitions) trains as long as
    ten would. An epoch here was one minibatch: the former 100-epoch default took 100 steps."""
    env = cartpole_expert.env
    demos = flatten_trajectories(cartpole_expert.trajectories[:1])
    result = train_bc(demos, env.spec, BCConfig(num_steps=1000, log_every=1000, eval_episodes=0), seed=0)
    score = _score(env, result.bc.policy, seed_slice(result.params, 0), cartpole_expert)
    assert len(demos) == 500 and score >= 0.95, score


def test_bc_takes_num_steps_whatever_the_data_size():
    """`BC.fit` takes exactly the steps asked for, on minibatches of `batch_size` drawn from
    the first `count` rows, from 3 rows as from 3,000 (a static count, as `train_bc` passes it)."""
    spec = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
    bc = BC(BCConfig(num_steps=30, batch_size=64, hidden_sizes=(16,)), spec)
    for rows in (3, 3000):
        obs = jax.random.normal(jax.random.PRNGKey(rows), (rows, 4))
        actions = (obs[:, 0] > 0).astype(jnp.int32)
        state = bc.init(jax.random.PRNGKey(0), ObsNormalizer.identity(4).update(obs))
        state, metrics = jax.jit(bc.fit, static_argnums=(3, 4))(state, obs, actions, rows, 30)
        assert int(state.step) == 30 and set(metrics) == {"loss", "neg_log_likelihood", "entropy", "accuracy"}
        assert np.isfinite(float(metrics["loss"])) and 0.0 <= float(metrics["accuracy"]) <= 1.0


def test_gail_reaches_expert_on_cartpole_with_seeds(cartpole_expert):
    """Half the default budget (250k of 500k env steps): both seeds score 1.00 there; the
    default budget's 5-seed figures are benchmarks/learning.py's."""
    env = imitax.make("CartPole-v1")
    config = GAILConfig.for_env("CartPole-v1", ppo={"total_steps": 250_000})
    result = train_gail(env, cartpole_expert.demos, config, seed=0, num_seeds=2)
    scores = []
    for index in range(2):
        params = seed_slice(result.state.ppo, index).policy_params
        scores.append(_score(env, result.algo.ppo.policy, params, cartpole_expert))
    assert min(scores) >= 0.95, scores
    assert result.history["disc_loss"].shape[0] == 2


def test_airl_reaches_expert_and_its_reward_trains_a_fresh_agent(cartpole_expert):
    env = imitax.make("CartPole-v1")
    # the reward-keeping setting (README): at the default 1e-3 the saved reward transfers worse.
    # 300k of the default 500k env steps: the policy scores 1.00 there.
    config = AIRLConfig.for_env("CartPole-v1", disc_learning_rate=REWARD_KEEPING_DISC_LEARNING_RATE,
                                ppo={"total_steps": 300_000})
    result = train_airl(env, cartpole_expert.demos, config, seed=0)
    params = seed_slice(result.state.ppo, 0).policy_params
    score = _score(env, result.algo.ppo.policy, params, cartpole_expert)
    assert score >= 0.9, score

    # reward transfer: PPO from scratch on the saved reward g alone, 4 fresh agents in one program
    # (150k env steps each). The issue's >= 0.8 is measured in benchmarks/reward_transfer.py (5
    # rewards, one fresh agent each: 1.000). A single CartPole reward is less certain (at the
    # default budgets the fresh agents of one reward scored 1.00, 0.26, 0.51 and 1.00; on this one
    # all four score 1.00), so the test asserts that the reward alone takes at least two of them
    # to the expert (a reward that teaches nothing leaves all four near random, 0).
    disc_params = seed_slice(result.algo.saved_reward_params(result.state), 0)
    fresh = train_ppo(env, PPOConfig.for_env("CartPole-v1", normalize_rewards=True, total_steps=150_000), seed=7,
                      num_seeds=4, reward_fn=lambda transitions: result.algo.learned_reward(disc_params, transitions))
    fresh_scores = [_score(env, fresh.ppo.policy, seed_slice(fresh.state, i).policy_params, cartpole_expert)
                    for i in range(4)]
    assert sum(score >= 0.9 for score in fresh_scores) >= 2, fresh_scores


def test_reward_choices():
    logits = np.array([-2.0, 0.0, 3.0])
    positive = np.asarray(reward_from_logits(logits, "positive"))
    negative = np.asarray(reward_from_logits(logits, "negative"))
    np.testing.assert_allclose(positive, -np.log(1 - 1 / (1 + np.exp(-logits))), rtol=1e-5)
    np.testing.assert_allclose(negative, np.log(1 / (1 + np.exp(-logits))), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(reward_from_logits(logits, "logit")), logits)
    assert (positive > 0).all() and (negative < 0).all()
