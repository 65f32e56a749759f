"""RL layer: GAE with termination vs truncation, PPO determinism, the compiled loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imitax
from imitax.errors import ConfigError
from imitax.rl import rates
from imitax.rl.loop import chunk_length, per_run
from imitax.rl.ppo import PPOConfig, gae
from imitax.rl.train import train_ppo


def test_gae_masks_termination_and_bootstraps_truncation():
    # one env, three steps: step 0 continues, step 1 is truncated, step 2 terminates
    rewards = jnp.array([[1.0], [1.0], [1.0]])
    values = jnp.array([[0.5], [0.5], [0.5]])
    next_values = jnp.array([[0.5], [2.0], [9.0]])
    terminated = jnp.array([[0.0], [0.0], [1.0]])
    dones = jnp.array([[0.0], [1.0], [1.0]])
    gamma, lam = 0.9, 0.8
    adv, targets = gae(rewards, values, next_values, terminated, dones, gamma, lam)
    delta2 = 1.0 - 0.5  # terminal: no bootstrap from the 9.0
    delta1 = 1.0 + gamma * 2.0 - 0.5  # truncated: bootstrap from the final observation's value
    delta0 = 1.0 + gamma * 0.5 - 0.5
    expected = np.array([delta0 + gamma * lam * delta1, delta1, delta2])
    np.testing.assert_allclose(np.asarray(adv[:, 0]), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(targets), np.asarray(adv + values), rtol=1e-6)


def test_chunk_length_divides_iterations():
    assert chunk_length(244, 20) == 4
    assert chunk_length(100, 20) == 5
    assert chunk_length(7, 20) == 1
    assert 100 % chunk_length(100, 3) == 0


def test_a_single_run_is_traced_without_vmap_and_computes_what_vmap_does():
    """`per_run(fn, 1)` keeps the runs' leading axis but traces `fn` unbatched (a vmapped program of
    one run compiles and runs slower); it computes what `jax.vmap(fn)` does, eagerly and jitted."""
    def step(carry):
        weights, x = carry
        y = jnp.tanh(x @ weights)
        return (weights * 0.9, y), {"norm": jnp.linalg.norm(y), "first": y[:2]}

    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    one = (jax.random.normal(keys[0], (1, 3, 3)), jax.random.normal(keys[1], (1, 4, 3)))
    for apply in (lambda fn: fn, jax.jit):
        got, want = apply(per_run(step, 1))(one), jax.vmap(step)(one)
        assert jax.tree.structure(got) == jax.tree.structure(want)
        for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert x.shape == y.shape and x.shape[0] == 1
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)

    def batched_products(fn):
        return [eqn for eqn in _equations(jax.make_jaxpr(fn)(one).jaxpr)
                if eqn.primitive.name == "dot_general" and eqn.params["dimension_numbers"][1][0]]

    assert batched_products(jax.vmap(step)) and not batched_products(per_run(step, 1))
    assert batched_products(per_run(step, 2))


def _equations(jaxpr):
    """Every equation of `jaxpr`, those of the jaxprs nested in its equations (jit, scan) included."""
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            inner = getattr(value, "jaxpr", value)
            if hasattr(inner, "eqns"):
                yield from _equations(inner)


def test_ppo_config_validation():
    with pytest.raises(ConfigError, match="learning_rate"):
        PPOConfig(learning_rate=-1.0).validate()
    with pytest.raises(ConfigError, match="divisible"):
        PPOConfig(num_envs=3, rollout_steps=5, num_minibatches=4).validate()
    with pytest.raises(ConfigError, match="total_steps"):
        PPOConfig(total_steps=0).validate()


def test_adaptive_learning_rate_follows_the_kl_target():
    """x1.5 below half the target, /1.5 above twice it, unchanged between, within the bounds."""
    from imitax.rl.ppo import ADAPTIVE_LR_MAX, ADAPTIVE_LR_MIN, PPO

    ppo = PPO(PPOConfig(learning_rate=1e-3, target_kl=0.01), imitax.make("CartPole-v1").spec)
    opt_state = ppo.init(jax.random.PRNGKey(0)).opt_state
    rate = lambda kl, state=opt_state: float(rates.rate(ppo.adapt_learning_rate(state, jnp.asarray(kl), 0.01)))
    assert float(rates.rate(opt_state)) == pytest.approx(1e-3)
    assert rate(0.001) == pytest.approx(1.5e-3)
    assert rate(0.03) == pytest.approx(1e-3 / 1.5)
    assert rate(0.01) == pytest.approx(1e-3)
    for kl, bound in ((0.0, ADAPTIVE_LR_MAX), (1.0, ADAPTIVE_LR_MIN)):
        state = opt_state
        for _ in range(40):
            state = ppo.adapt_learning_rate(state, jnp.asarray(kl), 0.01)
        assert float(rates.rate(state)) == pytest.approx(bound)


def test_adaptive_learning_rate_keeps_each_update_near_the_target():
    """Started 5x too high for a KL target of 0.001, the rate falls within a few updates and
    then holds each update's KL divergence near the target."""
    env = imitax.make("CartPole-v1")
    config = PPOConfig.for_env("CartPole-v1", total_steps=32 * 2048, learning_rate=5e-3, target_kl=0.001,
                               anneal_lr=False)
    history = train_ppo(env, config, seed=0).history
    rates, kls = history["learning_rate"][0], history["update_kl"][0]
    assert kls[0] > 0.005 and rates[0] < 5e-3 and rates[5] < 1e-3
    assert np.median(kls[8:]) < 0.002
    with pytest.raises(ConfigError, match="target_kl"):
        PPOConfig(target_kl=-0.1).validate()


def _small(env_id="CartPole-v1", **kw):
    return PPOConfig.for_env(env_id, total_steps=8 * 2048, **kw)


def test_same_seed_same_parameters_and_seeds_differ():
    env = imitax.make("CartPole-v1")
    a = train_ppo(env, _small(), seed=3)
    b = train_ppo(env, _small(), seed=3)
    c = train_ppo(env, _small(), seed=4)
    leaves_a, leaves_b, leaves_c = (jax.tree.leaves(r.state.params) for r in (a, b, c))
    assert all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b))
    assert not all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_c))


def test_num_seeds_vmaps_independent_runs():
    env = imitax.make("Pendulum-v1")
    result = train_ppo(env, _small("Pendulum-v1"), seed=0, num_seeds=3)
    log_std = np.asarray(result.state.params["policy"]["params"]["log_std"])
    assert log_std.shape == (3, 1)
    assert result.history["episode_return"].shape[0] == 3
    assert len({float(x) for x in log_std[:, 0]}) == 3


def test_host_loop_seeds_do_not_share_an_environment_state():
    """On Gymnasium the seeds step together, each on its own copies of one vector env: seed 1 of
    a 2-seed run is the run of seed 1 alone (its copies seeded as alone, none shared with seed 0),
    up to the float rounding of a vmapped update."""
    env = imitax.make("CartPole-v1", backend="gymnasium")
    config = PPOConfig(total_steps=512, num_envs=2, rollout_steps=64, num_epochs=1, num_minibatches=2, hidden_sizes=(8,))
    both = train_ppo(env, config, seed=0, num_seeds=2)
    alone = train_ppo(env, config, seed=1)
    np.testing.assert_array_equal(both.history["episode_return"][1], alone.history["episode_return"][0])
    for x, y in zip(jax.tree.leaves(both.state.params), jax.tree.leaves(alone.state.params)):
        np.testing.assert_allclose(np.asarray(x)[1], np.asarray(y)[0], rtol=1e-4, atol=1e-6)


def test_ppo_learns_cartpole_on_gymnasium_backend():
    """The host loop trains the same learner: 120k steps lift CartPole well above random (seed 0:
    last 10 training episodes 269 on average; seeds 0, 1, 2 then return 461, 500, 391 acting
    deterministically; 2026-11-29)."""
    env = imitax.make("CartPole-v1", backend="gymnasium")
    result = train_ppo(env, PPOConfig.for_env("CartPole-v1", total_steps=120_000), seed=0)
    returns = result.history["episode_return"][0]
    assert np.nanmean(returns[-10:]) > 150.0


@pytest.mark.parametrize("config_type", ["gail", "airl"])
def test_adversarial_defaults_differ_between_tasks_only_in_budget(config_type):
    """Per-task tables may hold budgets (env steps, parallel envs), never a loss, reward or rate."""
    import dataclasses

    from imitax.algos.airl import AIRLConfig
    from imitax.algos.gail import GAILConfig
    from imitax.envs.registry import GYMNAX_IDS

    cls = GAILConfig if config_type == "gail" else AIRLConfig
    budget = {"total_steps": 0, "num_envs": 0}

    def without_budgets(config):  # both generators' budgets
        return dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, **budget),
                                   sac=dataclasses.replace(config.sac, **budget))

    expected = without_budgets(cls())
    for env_id in (*GYMNAX_IDS, "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "a-task-nobody-has-seen-v0"):
        assert without_budgets(cls.for_env(env_id)) == expected, env_id
    overridden = cls.for_env("CartPole-v1", ppo={"total_steps": 4096, "learning_rate": 1e-3}, disc_steps=2)
    assert (overridden.ppo.total_steps, overridden.ppo.learning_rate, overridden.disc_steps) == (4096, 1e-3, 2)


def test_every_tuned_expert_setting_is_a_valid_config():
    from imitax.rl.ppo import TUNED

    for env_id in TUNED:
        PPOConfig.for_env(env_id).validate()
    assert PPOConfig.for_env("MountainCar-v0").normalize_rewards  # measured: without it no seed found the flag


@pytest.mark.parametrize("decay_steps, adaptive", [(None, False), (25, False), (None, True)])
def test_rates_in_the_state_compute_what_compiled_in_rates_do(decay_steps, adaptive):
    """imitax.rl.rates.adam is bit for bit optax.adam with the rate (or its linear decay)
    compiled in: moving rates into the state changed no figure."""
    import optax

    params = {"w": jnp.linspace(-1.0, 1.0, 50).reshape(5, 10)}

    def final(optimizer):
        state, current = optimizer.init(params), params
        for step in range(30):
            grads = jax.tree.map(lambda x, step=step: jnp.sin(x * (step + 1)), current)
            updates, state = optimizer.update(grads, state, current)
            current = optax.apply_updates(current, updates)
        return np.asarray(current["w"])

    compiled_in = optax.linear_schedule(3e-4, 0.0, decay_steps) if decay_steps else 3e-4
    np.testing.assert_array_equal(final(optax.adam(compiled_in, eps=1e-5)),
                                  final(rates.adam(3e-4, decay_steps, eps=1e-5, adaptive=adaptive)))


def test_ppo_cloning_term_pulls_the_policy_to_the_demonstrated_actions():
    """With demos and a weight, an update on a rollout whose rewards are all zero (no advantage
    to follow) raises the likelihood of the demonstrated actions through the mean and leaves the
    log-std (exploration) to PPO; with weight 0 it is the plain update."""
    from imitax.data.rollout import Rollout
    from imitax.data.types import Transitions
    from imitax.rl.ppo import PPO

    spec = imitax.make("Pendulum-v1").spec
    ppo = PPO(PPOConfig(num_envs=4, rollout_steps=8, num_minibatches=2, learning_rate=3e-3), spec)
    state = ppo.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (8, 4, 3))
    actions, extras = jax.vmap(lambda o, k: ppo.act(state, k, o))(obs, jax.random.split(jax.random.PRNGKey(2), 8))
    zeros = jnp.zeros((8, 4))
    rollout = Rollout(Transitions(obs, actions, zeros, obs, zeros.astype(bool), zeros.astype(bool)), extras, zeros)
    demo_obs = jax.random.normal(jax.random.PRNGKey(3), (20, 3))
    demos = Transitions(demo_obs, jnp.full((20, 1), 1.5), jnp.zeros(20), demo_obs, jnp.zeros(20, bool), jnp.zeros(20, bool))

    def demo_log_prob(s):
        return float(ppo.policy.distribution(s.policy_params, demos.obs).log_prob(demos.actions).mean())

    plain, _ = ppo.update(state, rollout, zeros)
    unweighted, _ = ppo.update(state, rollout, zeros, demos, 0.0)
    cloned, metrics = ppo.update(state, rollout, zeros, demos, 10.0)
    for a, b in zip(jax.tree.leaves(plain.params), jax.tree.leaves(unweighted.params)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert demo_log_prob(cloned) > demo_log_prob(plain) + 0.05
    # the term's gradient reaches the mean's layers, not the log-std
    batch = (obs[0], actions[0], extras["log_prob"][0], extras["value"][0], jnp.ones(4), jnp.zeros(4))
    grads = [jax.grad(lambda p, w=w: ppo._loss(p, state.obs_norm, batch, (demos.obs, demos.actions), w)[0])(state.params)
             for w in (0.0, 10.0)]
    log_std_grads = [np.asarray(g["policy"]["params"]["log_std"]) for g in grads]
    first_layer_grads = [np.asarray(g["policy"]["params"]["MLP_0"]["Dense_0"]["kernel"]) for g in grads]
    np.testing.assert_array_equal(*log_std_grads)
    assert not np.allclose(*first_layer_grads)
    assert float(metrics["bc_nll"]) > 0
