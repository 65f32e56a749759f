"""Environment layer: both backends, specs, auto-reset, termination vs truncation."""

import subprocess
import sys

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imitax
from imitax.envs import GYMNAX_IDS, Box, Discrete
from imitax.errors import SpaceError, UnknownEnvError


@pytest.mark.parametrize("env_id", GYMNAX_IDS)
def test_every_gymnax_task_makes_and_steps(env_id):
    env = imitax.make(env_id)
    obs, state = env.reset_batch(jax.random.PRNGKey(0), 4)
    assert obs.shape == (4, env.spec.obs_dim)
    shape = (4, *env.spec.action_space.shape)
    actions = jnp.zeros(shape, jnp.int32 if env.spec.discrete else jnp.float32)
    step = jax.jit(env.step_batch)(jax.random.PRNGKey(1), state, actions)
    assert step.reward.shape == (4,) and step.next_obs.shape == obs.shape
    assert env.spec.max_episode_steps > 0


def test_specs_match_between_backends():
    for env_id in ("CartPole-v1", "Pendulum-v1"):
        jax_spec = imitax.make(env_id).spec
        gym_spec = imitax.make(env_id, backend="gymnasium").spec
        assert jax_spec == gym_spec
    assert imitax.make("CartPole-v1").spec.action_space == Discrete(2)
    assert imitax.make("Pendulum-v1").spec.action_space == Box((-2.0,), (2.0,))


def test_unknown_id_lists_known_ones():
    with pytest.raises(UnknownEnvError, match="CartPole-v1"):
        imitax.make("CartPoel-v1")
    with pytest.raises(UnknownEnvError, match="backend='gymnasium'"):
        imitax.make("LunarLander-v3" if "LunarLander-v3" in gym.registry else "Blackjack-v1")
    with pytest.raises(UnknownEnvError, match="unknown environment id"):
        imitax.make("NoSuchEnv-v0", backend="gymnasium")
    with pytest.raises(UnknownEnvError, match="backend"):
        imitax.make("CartPole-v1", backend="torch")


def test_jax_cartpole_terminates_and_resets():
    env = imitax.make("CartPole-v1")
    _, state = env.reset_batch(jax.random.PRNGKey(0), 1)
    step = jax.jit(env.step_batch)
    for t in range(200):
        out = step(jax.random.PRNGKey(t), state, jnp.ones(1, jnp.int32))
        if out.terminated.any():
            break
        state = out.state
    assert out.terminated.all() and not out.truncated.any()
    # the true final observation is out of bounds; the next one is a fresh reset
    assert float(jnp.abs(out.next_obs[0, 2])) > 0.2 or float(jnp.abs(out.next_obs[0, 0])) > 2.4
    assert float(jnp.abs(out.obs).max()) <= 0.05
    assert out.episode_length[0] == t + 1 and out.episode_return[0] == t + 1
    assert int(out.state.episode_length[0]) == 0


def test_jax_pendulum_truncates_at_time_limit():
    env = imitax.make("Pendulum-v1")
    obs, state = env.reset_batch(jax.random.PRNGKey(0), 1)
    step = jax.jit(env.step_batch)
    for t in range(200):
        out = step(jax.random.PRNGKey(t), state, jnp.zeros((1, 1)))
        state = out.state
    assert bool(out.truncated[0]) and not bool(out.terminated[0])
    assert int(out.episode_length[0]) == 200


def test_dynamics_parameters_can_change():
    heavy = imitax.make("Pendulum-v1", m=2.0)
    assert float(heavy.params.m) == 2.0
    assert float(heavy.with_params(g=5.0).params.g) == 5.0


def test_gymnasium_backend_final_observation():
    env = imitax.make("CartPole-v1", backend="gymnasium", num_envs=3)
    obs = env.reset(seed=0)
    assert obs.shape == (3, 4)
    for _ in range(500):
        out = env.step(np.ones(3, np.int64))
        if out.terminated.any():
            break
    i = int(np.flatnonzero(out.terminated)[0])
    assert not np.allclose(out.next_obs[i], out.obs[i])
    assert out.episode_return[i] == out.episode_length[i]


def test_gymnasium_instance_and_flattened_box():
    env = imitax.make(gym.make("Pendulum-v1"))
    assert env.spec.obs_dim == 3 and env.num_envs == 1


def test_gymnasium_rejects_unsupported_spaces():
    with pytest.raises(SpaceError, match="observation space"):
        imitax.make("FrozenLake-v1", backend="gymnasium")
    with pytest.raises(SpaceError, match="Discrete or Box"):
        imitax.make(_TupleActionEnv())


class _TupleActionEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(2)))

    def reset(self, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}


def test_unregistered_instance_evaluates_as_one_copy():
    from imitax.eval import evaluate, random_policy
    from imitax.errors import ConfigError

    env = imitax.make(_CountingEnv())
    with pytest.raises(ConfigError, match="single copy"):
        env.with_num_envs(4)
    result = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(0), 3)
    assert result.returns.tolist() == [5.0, 5.0, 5.0] and result.lengths.tolist() == [5, 5, 5]


class _CountingEnv(gym.Env):
    """Five steps of reward 1, then a terminal state."""

    observation_space = gym.spaces.Box(-10, 10, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 1.0, self.t >= 5, False, {}


class _ClosingEnv(_CountingEnv):
    made: list = []
    closed: list = []

    def __init__(self):
        _ClosingEnv.made.append(self)

    def close(self):
        _ClosingEnv.closed.append(self)


def test_evaluation_and_recording_close_the_copies_they_make():
    from imitax.data.rollout import collect_episodes
    from imitax.eval import evaluate, random_policy

    env = imitax.make(_ClosingEnv)  # a class: evaluation makes 3 copies of it, recording 2
    assert evaluate(env, random_policy(env.spec), jax.random.PRNGKey(0), 3).returns.tolist() == [5.0, 5.0, 5.0]
    assert len(collect_episodes(env, random_policy(env.spec), jax.random.PRNGKey(1), 2)) == 2
    still_open = [e for e in _ClosingEnv.made if e not in _ClosingEnv.closed]
    assert len(_ClosingEnv.made) >= 6 and len(still_open) == 1  # the env's own copy
    env.close()
    assert all(e in _ClosingEnv.closed for e in _ClosingEnv.made)


def test_collect_closes_the_envs_it_makes_and_leaves_a_users_instance_open(minari_root):
    """`imitax.collect` from an env class (its copies, batched or not, and the random reference's)
    closes every env it made; given an instance, it closes its own copies but not the instance."""
    policy = lambda obs: 0  # noqa: E731
    batched = lambda obs: np.zeros(len(obs), np.int64)  # noqa: E731
    _ClosingEnv.made.clear(), _ClosingEnv.closed.clear()
    imitax.collect(_ClosingEnv, policy, episodes=2, dataset_id="closing/one-v0", reference_episodes=3,
                   allow_weak_expert=True)
    imitax.collect(_ClosingEnv, batched, episodes=3, dataset_id="closing/batched-v0", batched=True,
                   allow_weak_expert=True)
    assert len(_ClosingEnv.made) >= 1 + 3 + 3 + 3 and set(map(id, _ClosingEnv.made)) == set(map(id, _ClosingEnv.closed))
    instance = _ClosingEnv()
    _ClosingEnv.made.clear(), _ClosingEnv.closed.clear()
    imitax.collect(instance, policy, episodes=2, dataset_id="closing/instance-v0", reference_episodes=2,
                   allow_weak_expert=True)
    assert instance not in _ClosingEnv.closed


def test_jax_envs_skip_gymnax_package_import_and_gymnax_still_imports_after():
    """make() loads gymnax's classic-control modules without its package __init__ (which imports
    matplotlib's pyplot and seaborn); a later `import gymnax` works and shares the classes."""
    code = """
import sys
import imitax
env = imitax.make("Acrobot-v1")
assert env.spec.obs_dim == 6 and env.spec.action_space.n == 3
assert "gymnax" not in sys.modules and "seaborn" not in sys.modules, sorted(m for m in sys.modules if "gymnax" in m)
import gymnax
native, params = gymnax.make("Acrobot-v1")
assert type(native) is type(env.env) and int(params.max_steps_in_episode) == env.spec.max_episode_steps
assert gymnax.make("Catch-bsuite")[0].__class__.__name__ == "Catch"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_training_loops_close_the_copies_they_make():
    """PPO (one run, and two stepped together), SAC (two stepped together) and DAgger on a
    Gymnasium env class close the vector envs they made for training once the run ends."""
    from imitax.algos.bc import BCConfig
    from imitax.algos.dagger import DAggerConfig, train_dagger
    from imitax.rl.off_policy import train_sac
    from imitax.rl.ppo import PPOConfig
    from imitax.rl.sac import SACConfig
    from imitax.rl.train import train_ppo

    _ClosingEnv.made.clear(), _ClosingEnv.closed.clear()
    env = imitax.make(_ClosingEnv)
    ppo = PPOConfig(total_steps=64, num_envs=2, rollout_steps=32, num_minibatches=1, num_epochs=1, hidden_sizes=(8,))
    train_ppo(env, ppo, seed=0)
    train_ppo(env, ppo, seed=0, num_seeds=2)
    train_sac(env, SACConfig(total_steps=40, learning_starts=20, batch_size=8, hidden_sizes=(8,)), seed=0, num_seeds=2)
    labels = lambda key, obs: jnp.zeros(obs.shape[:-1], jnp.int32)  # noqa: E731
    train_dagger(env, labels, DAggerConfig(num_rounds=1, episodes_per_round=2, eval_episodes=2,
                                           bc=BCConfig(num_steps=2, batch_size=4, hidden_sizes=(8,))), seed=0)
    still_open = [e for e in _ClosingEnv.made if e not in _ClosingEnv.closed]
    assert len(_ClosingEnv.made) >= 1 + 2 + 4 + 2 + 4 and len(still_open) == 1  # the env's own copy
    env.close()
    assert all(e in _ClosingEnv.closed for e in _ClosingEnv.made)
