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
from imitax.data.rollout import collect_episodes
from imitax.data.types import flatten_trajectories
from imitax.envs.spec import Discrete, EnvSpec
from imitax.eval import evaluate, normalized_score, random_policy
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.loop import seed_slice


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


def test_gail_reaches_expert_on_cartpole(cartpole_expert):
    """Half the default budget (250k of 500k env steps), seed 0: 1.00 there (seed 1 too; at 150k
    seed 0 scored 0.49); the default budget's 5-seed figures are benchmarks/learning.py's."""
    env = imitax.make("CartPole-v1")
    config = GAILConfig.for_env("CartPole-v1", ppo={"total_steps": 250_000})
    result = train_gail(env, cartpole_expert.demos, config, seed=0)
    score = _score(env, result.algo.ppo.policy, seed_slice(result.state.ppo, 0).policy_params, cartpole_expert)
    assert score >= 0.95, score


def test_airl_reaches_expert_and_its_saved_reward_ranks_the_experts_transitions_first(cartpole_expert):
    env = imitax.make("CartPole-v1")
    # the reward-keeping setting (README): at the default 1e-3 the saved reward transfers worse.
    # 200k of the default 500k env steps: seeds 0 and 1 (each alone) score 1.00 there and their
    # rewards rank the expert's episodes first (2026-11-29; at 150k one of three runs' did not).
    config = AIRLConfig.for_env("CartPole-v1", disc_learning_rate=REWARD_KEEPING_DISC_LEARNING_RATE,
                                ppo={"total_steps": 200_000})
    result = train_airl(env, cartpole_expert.demos, config, seed=0)
    params = seed_slice(result.state.ppo, 0).policy_params
    score = _score(env, result.algo.ppo.policy, params, cartpole_expert)
    assert score >= 0.9, score

    # the saved reward g(s) values the expert's episodes above a random policy's (discounted
    # return from the first state, what a fresh agent maximises). Whether it trains a fresh agent
    # is benchmarks/reward_transfer.py's (5 rewards at the default budgets; on CartPole 0.830 there):
    # one CartPole reward at 300k is a coin flip (24 fresh agents on 6 rewards, 2026-11-28:
    # 1 at >= 0.9), so the fresh-agent path is tested on Pendulum (test_airl_saved_reward.py).
    disc_params = seed_slice(result.algo.saved_reward_params(result.state), 0)
    gamma = config.ppo.gamma

    def discounted_returns(trajectories):
        returns = []
        for trajectory in trajectories:
            rewards = np.asarray(result.algo.learned_reward(disc_params, flatten_trajectories([trajectory])))
            returns.append(float((gamma ** np.arange(len(rewards)) * rewards).sum()))
        return np.asarray(returns)

    expert = discounted_returns(cartpole_expert.trajectories)
    random = discounted_returns(collect_episodes(env, random_policy(env.spec), jax.random.PRNGKey(8), 20))
    assert expert.min() > random.mean() and expert.mean() > random.max(), (expert, random)


def test_reward_choices():
    logits = np.array([-2.0, 0.0, 3.0])
    positive = np.asarray(reward_from_logits(logits, "positive"))
    negative = np.asarray(reward_from_logits(logits, "negative"))
    np.testing.assert_allclose(positive, -np.log(1 - 1 / (1 + np.exp(-logits))), rtol=1e-5)
    np.testing.assert_allclose(negative, np.log(1 / (1 + np.exp(-logits))), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(reward_from_logits(logits, "logit")), logits)
    assert (positive > 0).all() and (negative < 0).all()
