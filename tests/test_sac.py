"""SAC, its replay buffer and the off-policy loop."""

import dataclasses

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imitax
from imitax.data.replay import ReplayBuffer
from imitax.data.types import Transitions
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import CheckpointError, ConfigError
from imitax.io.resume import ResumeCheckpoint
from imitax.nets.squashed_policy import SquashedGaussianPolicy
from imitax.rl.loop import seed_slice
from imitax.rl.off_policy import run_off_policy, sac_learner, train_sac
from imitax.rl.sac import SAC, SACConfig

from test_resume import Interrupted, assert_trees_equal, interrupt_after


def _transitions(values: np.ndarray) -> Transitions:
    n = values.shape[0]
    obs = jnp.asarray(values, jnp.float32)[:, None].repeat(2, axis=1)
    return Transitions(obs, jnp.zeros(n, jnp.int32), jnp.zeros(n), obs, jnp.zeros(n, bool), jnp.zeros(n, bool))


def test_replay_buffer_keeps_the_most_recent_transitions():
    buffer = ReplayBuffer.allocate(_transitions(np.zeros(1)), capacity=10)
    buffer = buffer.add(_transitions(np.arange(4.0)))
    assert int(buffer.size) == 4
    assert float(buffer.sample(jax.random.PRNGKey(0), 200).obs.max()) == 3.0  # only filled slots
    for start in (4.0, 8.0, 12.0):
        buffer = buffer.add(_transitions(np.arange(start, start + 4)))
    assert int(buffer.size) == 10 and int(buffer.position) == 6
    assert sorted(np.asarray(buffer.items.obs[:, 0]).tolist()) == list(np.arange(6.0, 16.0))
    drawn = np.asarray(buffer.sample(jax.random.PRNGKey(1), 2000).obs[:, 0])
    assert set(drawn.tolist()) == set(np.arange(6.0, 16.0).tolist())


def test_squashed_policy_stays_in_bounds_with_a_finite_log_density():
    spec = EnvSpec("test", 3, Box((-2.0, 0.0), (2.0, 10.0)), 10)
    policy = SquashedGaussianPolicy(spec, (16,))
    params = policy.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (1000, 3)) * 100
    actions, log_prob = policy.sample_and_log_prob(params, jax.random.PRNGKey(2), obs)
    assert actions.shape == (1000, 2) and log_prob.shape == (1000,)
    assert bool(jnp.isfinite(log_prob).all())
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    for a in (actions, policy.act(params, jax.random.PRNGKey(3), obs, deterministic=True)):
        assert bool(((a >= low) & (a <= high)).all())
    # the squashed mean of an untrained policy sits at the middle of the bounds
    np.testing.assert_allclose(policy.act(params, None, jnp.zeros((1, 3)), deterministic=True)[0], [0.0, 5.0], atol=0.1)


def test_sac_config_and_bounds_are_checked():
    with pytest.raises(ConfigError, match="sac.tau"):
        SACConfig(tau=1.5).validate()
    with pytest.raises(ConfigError, match="sac.batch_size"):
        SACConfig(batch_size=0).validate()
    with pytest.raises(ConfigError, match="buffer_size"):
        SACConfig(num_envs=8, rollout_steps=4, buffer_size=16).validate()
    # target entropies: -action_dim on Box; 0.5 log n on Discrete (at 0.89 log n, CleanRL's Atari
    # value, the temperature grew without bound on CartPole: the entropy settled a hair below it)
    assert SAC(SACConfig(), EnvSpec("box", 2, Box((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)), 10)).target_entropy == -3.0
    assert SAC(SACConfig(), imitax.make("CartPole-v1").spec).target_entropy == pytest.approx(0.5 * np.log(2))
    unbounded = EnvSpec("free", 2, Box((-np.inf,), (np.inf,)), 10)
    with pytest.raises(ConfigError, match="unbounded"):
        SAC(SACConfig(), unbounded).init(jax.random.PRNGKey(0))


def test_absorbing_entropy_counts_the_entropy_cost_that_ending_an_episode_would_escape():
    box = EnvSpec("box", 3, Box((-1.0, -1.0), (1.0, 1.0)), 10)
    config = SACConfig(hidden_sizes=(8,), batch_size=4, init_alpha=0.2, absorbing_entropy=True)
    sac = SAC(config, box)
    state = sac.init(jax.random.PRNGKey(0))
    terminated = jnp.array([False, True, False, True])
    # Box: target entropy -2, so every step costs alpha * 2; the absorbing loop pays it forever
    expected = config.gamma / (1 - config.gamma) * 0.2 * -2.0
    np.testing.assert_allclose(sac.absorbing_entropy(state, terminated), [0.0, expected, 0.0, expected], rtol=1e-5)
    discrete = EnvSpec("discrete", 3, Discrete(4), 10)
    np.testing.assert_array_equal(SAC(config, discrete).absorbing_entropy(state, terminated), np.zeros(4))

    # in the update, only terminal rows' targets change: the critic's loss is the same without them
    obs = jax.random.normal(jax.random.PRNGKey(1), (4, 3))

    def critic_loss(terminal: jnp.ndarray, flag: bool) -> float:
        batch = Transitions(obs, jnp.zeros((4, 2)), jnp.zeros(4), obs, terminal, jnp.zeros(4, bool))
        learner = SAC(dataclasses.replace(config, absorbing_entropy=flag), box)
        return float(learner.update(state, batch, jnp.zeros(4))[1]["critic_loss"])

    none_terminal = jnp.zeros(4, bool)
    assert critic_loss(none_terminal, True) == critic_loss(none_terminal, False)
    # two terminal rows with targets lowered by about 39.6 from near 0: squared errors of about 1,570
    # each, averaged over the batch and summed over the 2 critics
    assert critic_loss(terminated, True) == pytest.approx(2 * 2 * expected ** 2 / 4, rel=0.05)
    assert critic_loss(terminated, False) < 1.0


# SAC's learning test is the SAC expert of test_cli.py's off-policy flow (Pendulum, 8k env steps).


def test_interrupted_sac_run_resumes_bit_exact_with_its_replay(tmp_path):
    env = imitax.make("Pendulum-v1")
    config = SACConfig(total_steps=1_200, learning_starts=400, batch_size=32, hidden_sizes=(16,), num_envs=2)
    uninterrupted = train_sac(env, config, seed=1, num_seeds=2)
    with pytest.raises(Interrupted):
        train_sac(env, config, seed=1, num_seeds=2, on_chunk=interrupt_after(300),
                  checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    resumed = train_sac(env, config, seed=1, num_seeds=2, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    assert_trees_equal(uninterrupted.state, resumed.state)
    for name, values in uninterrupted.history.items():
        np.testing.assert_array_equal(values, resumed.history[name])


def test_sac_on_the_gymnasium_backend_steps_its_seeds_together_and_resumes_without_gaps(tmp_path):
    """Two seeds on a Gymnasium env run in lockstep (one vector env of both seeds' copies, one
    vmapped update): each is the run it would be alone, up to float rounding, and an
    interrupted run resumes without gaps (new episodes: the live env is not saved)."""
    env = imitax.make("Pendulum-v1", backend="gymnasium")
    config = SACConfig(total_steps=600, learning_starts=200, batch_size=32, hidden_sizes=(16,), num_envs=2)
    learner = sac_learner(SAC(config, env.spec))
    uninterrupted = run_off_policy(env, learner, config.num_iterations, seed=0, num_seeds=2)
    with pytest.raises(Interrupted):
        train_sac(env, config, seed=0, num_seeds=2, on_chunk=interrupt_after(150),
                  checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    result = train_sac(env, config, seed=0, num_seeds=2, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    # the iterations up to the last checkpoint before the interruption (every 15) are the uninterrupted run's
    for name, values in uninterrupted.history.items():
        np.testing.assert_array_equal(values[:, :135], result.history[name][:, :135])
    assert not np.isnan(result.history["critic_loss"]).any()
    assert (np.asarray(result.history["critic_loss"])[:, -1] > 0).all()  # the updates ran after the warm-up
    # one update per iteration from the one that stores the 200th transition (the 100th of 300)
    assert np.asarray(result.state.update_step).tolist() == [300 - 99] * 2
    alone = run_off_policy(env, learner, config.num_iterations, seed=1)
    # seed 1's warm-up (its env seeds, its random actions) is the same; its first updates agree up to rounding
    together_replay, alone_replay = seed_slice(uninterrupted.carry[1], 1), seed_slice(alone.carry[1], 0)
    assert_trees_equal(jax.tree.map(lambda x: x[:200], together_replay.items),
                       jax.tree.map(lambda x: x[:200], alone_replay.items))
    together, by_itself = uninterrupted.history["critic_loss"], alone.history["critic_loss"]
    np.testing.assert_allclose(together[1, 99:110], by_itself[0, 99:110], rtol=1e-3)
    assert not np.allclose(together[0, 99:110], by_itself[0, 99:110])  # seed 0 is another run


def test_an_env_instance_given_alone_runs_its_seeds_one_after_another_with_the_same_data(monkeypatch):
    """An instance without a factory is not copied (a copy from its id would lose its make
    arguments and wrappers), so its seeds run one after another on it itself; each seed still
    collects what it collects stepped together with the others."""
    import imitax.rl.off_policy

    instance = imitax.make(gymnasium.make("Pendulum-v1", g=9.0))
    copies = imitax.make("Pendulum-v1", backend="gymnasium", g=9.0)
    config = SACConfig(total_steps=210, learning_starts=200, batch_size=32, hidden_sizes=(16,))
    learner = sac_learner(SAC(config, copies.spec))
    with monkeypatch.context() as patch:
        patch.setattr(imitax.rl.off_policy, "_run_lockstep", None)  # fails if the instance took that path
        alone = run_off_policy(instance, learner, config.num_iterations, seed=0, num_seeds=2)
    together = run_off_policy(copies, learner, config.num_iterations, seed=0, num_seeds=2)
    assert_trees_equal(jax.tree.map(lambda x: x[:, :200], alone.carry[1].items),  # the warm-up's random actions
                       jax.tree.map(lambda x: x[:, :200], together.carry[1].items))
    assert np.asarray(alone.carry[0].update_step).tolist() == np.asarray(together.carry[0].update_step).tolist() == [11, 11]
    assert not np.array_equal(alone.carry[1].items.obs[0, :200], alone.carry[1].items.obs[1, :200])


def test_a_gymnasium_off_policy_checkpoint_whose_seeds_are_at_different_steps_is_refused():
    """A multi-seed checkpoint of the loop that ran the seeds one after another (seed 0 done,
    seed 1 not started) cannot resume in lockstep: a clear refusal, not a mixed run."""

    class SequentialCheckpoint:
        def restore(self, template):
            done, fresh = template
            return 150, [(*done[:3], 300), (*fresh[:3], 0)], {}

        def due(self, final):
            return False

    env = imitax.make("Pendulum-v1", backend="gymnasium")
    config = SACConfig(total_steps=300, learning_starts=200, batch_size=32, hidden_sizes=(16,), num_envs=2)
    with pytest.raises(CheckpointError, match=r"records 150 iterations and its runs at env steps \[0, 300\]; expected every run at 300"):
        train_sac(env, config, seed=0, num_seeds=2, checkpoint=SequentialCheckpoint())
