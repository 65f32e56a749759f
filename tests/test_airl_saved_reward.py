"""AIRL's saved reward: a separate network (the default) or the generator's own
discriminator with a replay and an annealed rate (an option), and what each leaves alone."""

import dataclasses

import jax
import numpy as np

import imitax
from imitax.algos.airl import AIRL, AIRLConfig, train_airl
from imitax.algos.dac import DACConfig
from imitax.algos.gail import GAIL, GAILConfig, train_gail
from imitax.rl.loop import seed_slice
from shipped_experts import shipped_expert

TINY = {"ppo": {"total_steps": 4096, "num_envs": 4, "rollout_steps": 128}}


def _leaves_equal(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_separate_reward_learns_its_own_network_without_touching_the_generator(cartpole_expert):
    env = imitax.make("CartPole-v1")
    common = {**TINY, "separate_reward": False, "disc_replay_size": 0, "disc_anneal_lr": False, "disc_state_only": False}
    plain = train_airl(env, cartpole_expert.demos, AIRLConfig.for_env("CartPole-v1", **common))
    separate = train_airl(env, cartpole_expert.demos, AIRLConfig.for_env("CartPole-v1", **{**common, "separate_reward": True}))
    # the generator and its discriminator follow exactly the same run
    assert _leaves_equal(plain.state.ppo.params, separate.state.ppo.params)
    assert _leaves_equal(plain.state.disc_params, separate.state.disc_params)
    # the saved reward is the separate network, trained (not its initial value) and distinct
    saved = separate.algo.saved_reward_params(separate.state)
    assert saved is separate.state.reward_params and plain.algo.saved_reward_params(plain.state) is plain.state.disc_params
    assert not _leaves_equal(saved["net"], separate.state.disc_params["net"])
    assert "reward_disc_loss" in separate.history and np.isfinite(separate.history["reward_disc_loss"]).all()
    # the replay reservoir saw every agent transition of the run (8 updates x 512)
    assert int(separate.state.replay.seen[0]) == 4096
    # the generator's discriminator's g sees the action, the saved reward's (state_only) does not
    assert not separate.algo.discriminator.state_only and separate.algo.saved_reward_net.state_only
    assert separate.algo.saved_reward(separate.state)[1]["network"]["state_only"] is True


def test_generator_discriminator_tells_actions_apart_where_the_saved_reward_does_not(cartpole_expert):
    """By default (`disc_state_only` None) the generator's discriminator is g(s, a) + gamma h(s') - h(s),
    the saved reward g(s); without a separate reward network the one discriminator is `state_only`.
    Which inputs each network sees is its structure: a fresh state shows it (training does not
    change it; the separate network's training is the test above's)."""
    env = imitax.make("CartPole-v1")
    algo = AIRL(AIRLConfig.for_env("CartPole-v1", **TINY), env.spec)
    state = algo.init(jax.random.PRNGKey(0), cartpole_expert.demos)
    demos = jax.tree.map(lambda x: x[:64], cartpole_expert.demos)
    flipped = demos.replace(actions=1 - demos.actions)  # same s and s', the other action
    generator_g = algo.discriminator.step_reward
    saved_g = algo.saved_reward_net.step_reward
    assert float(np.abs(generator_g(state.disc_params, demos) - generator_g(state.disc_params, flipped)).max()) > 1e-3
    np.testing.assert_array_equal(np.asarray(saved_g(state.reward_params, demos)),
                                  np.asarray(saved_g(state.reward_params, flipped)))
    shared = AIRLConfig.for_env("CartPole-v1", **TINY, separate_reward=False)
    assert AIRL(shared, env.spec).discriminator.state_only and AIRL(shared, env.spec).saved_reward_net.state_only


def test_gail_has_no_replay_by_default_and_its_discriminator_rate_decays_with_the_generators(cartpole_expert):
    env = imitax.make("CartPole-v1")
    result = train_gail(env, cartpole_expert.demos, GAILConfig.for_env("CartPole-v1", **TINY))
    assert result.state.replay is None and result.state.reward_params is None
    annealed = train_gail(env, cartpole_expert.demos, GAILConfig.for_env("CartPole-v1", **TINY, disc_anneal_lr=True))
    assert _leaves_equal(result.state.disc_params, annealed.state.disc_params)
    replayed = train_gail(env, cartpole_expert.demos, GAILConfig.for_env("CartPole-v1", **TINY, disc_replay_size=1000,
                                                                          disc_anneal_lr=False))
    assert int(seed_slice(replayed.state.replay, 0).seen) == 4096
    assert not _leaves_equal(result.state.disc_params, replayed.state.disc_params)
    # None follows the generator's rate: PPO's decays unless switched off or KL-adaptive; SAC's is constant
    spec = env.spec
    assert GAIL(GAILConfig(), spec).resolved_config.disc_anneal_lr is True
    assert AIRL(AIRLConfig(), spec).anneals_disc_lr
    assert not GAIL(GAILConfig(ppo=dataclasses.replace(GAILConfig().ppo, anneal_lr=False)), spec).anneals_disc_lr
    assert not GAIL(GAILConfig(ppo=dataclasses.replace(GAILConfig().ppo, target_kl=0.01)), spec).anneals_disc_lr
    assert not GAIL(DACConfig(), spec).anneals_disc_lr
    assert GAIL(DACConfig(disc_anneal_lr=True), spec).anneals_disc_lr


def test_airl_pendulum_reward_trains_a_fresh_agent():
    """The issue's Pendulum figures at the default settings and smaller budgets (AIRL 300k of its
    1M env steps, the fresh agent 150k of 1M): AIRL's policy >= 0.8 and a fresh PPO agent trained
    on its saved reward alone >= 0.8 of the expert's true return (random = 0). There, AIRL seed 0
    scores 0.89 and its fresh agent 0.96; seed 1 0.87 and 0.93 (at 400k and 200k, seed 0: 0.94
    and 0.92; 2026-11-29)."""
    from imitax.data.rollout import collect_episodes
    from imitax.data.types import flatten_trajectories
    from imitax.eval import evaluate, normalized_score, random_policy
    from imitax.rl.ppo import PPOConfig
    from imitax.rl.train import train_ppo

    env = imitax.make("Pendulum-v1")
    expert_policy, expert_params = shipped_expert("Pendulum-v1")

    def score(policy, params):
        result = evaluate(env, lambda k, o: policy.act(params, k, o, deterministic=True), jax.random.PRNGKey(5), 20)
        return float(normalized_score(result.mean, random_return, expert_return))

    expert_return = evaluate(env, lambda k, o: expert_policy.act(expert_params, k, o, deterministic=True),
                             jax.random.PRNGKey(1), 20).mean
    random_return = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), 20).mean
    demos = flatten_trajectories(collect_episodes(
        env, lambda k, o: expert_policy.act(expert_params, k, o, deterministic=True), jax.random.PRNGKey(4), 10))

    airl = train_airl(env, demos, AIRLConfig.for_env("Pendulum-v1", ppo={"total_steps": 300_000}), seed=0)
    assert airl.state.reward_params is not None  # the default: the separate reward network
    assert airl.algo.generator_reward == "shaped"  # "auto" on Box actions
    assert score(airl.algo.ppo.policy, seed_slice(airl.state.ppo, 0).policy_params) >= 0.8

    reward_params = seed_slice(airl.algo.saved_reward_params(airl.state), 0)
    fresh = train_ppo(env, PPOConfig.for_env("Pendulum-v1", normalize_rewards=True, total_steps=150_000), seed=7,
                      reward_fn=lambda transitions: airl.algo.learned_reward(reward_params, transitions))
    fresh_score = score(fresh.ppo.policy, seed_slice(fresh.state, 0).policy_params)
    assert fresh_score >= 0.8, fresh_score
