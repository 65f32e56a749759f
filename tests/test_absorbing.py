"""Absorbing states: a learned reward neither pays for ending episodes nor for prolonging them,
unless the expert does the same.

The agent's and the expert's transitions are drawn from the same states and actions; they
differ only in how often an episode ends. The discriminator is trained on them, and the
discounted value of ending an episode now (the terminal step plus the absorbing state's
folded value) is compared with the value of going on forever in the same states.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imitax.algos.airl import AIRL, AIRLConfig
from imitax.algos.gail import GAIL, GAILConfig
from imitax.data.types import Transitions
from imitax.envs.spec import Discrete, EnvSpec

SPEC = EnvSpec("toy", 2, Discrete(2), 100)
GAMMA = 0.9
NUM = 1024


def _transitions(key: jax.Array, terminal_rate: float) -> Transitions:
    """States and actions drawn alike for expert and agent; a `terminal_rate` share ends episodes."""
    obs_key, action_key, end_key = jax.random.split(key, 3)
    obs = jax.random.normal(obs_key, (NUM, SPEC.obs_dim))
    terminated = jax.random.uniform(end_key, (NUM,)) < terminal_rate
    return Transitions(obs, jax.random.randint(action_key, (NUM,), 0, 2), jnp.zeros(NUM), obs, terminated,
                       jnp.zeros(NUM, bool))


def _end_minus_go_on(algo: GAIL, expert_rate: float, agent_rate: float) -> float:
    """Value of ending an episode now minus the value of never ending it, under the reward
    `algo` learns when the expert ends episodes at `expert_rate` and the agent at `agent_rate`."""
    key = jax.random.PRNGKey(0)
    state = algo.init(key, _transitions(jax.random.fold_in(key, 1), expert_rate))
    agent = _transitions(jax.random.fold_in(key, 2), agent_rate)

    @jax.jit
    def fit(state):
        return jax.lax.fori_loop(0, 60, lambda _, s: algo.update_discriminator(s, agent)[0], state)

    state = fit(state)
    rewards = algo.reward(state, agent)
    going_on = float(jnp.mean(jnp.where(agent.terminated, jnp.nan, rewards), where=~agent.terminated))
    ending = float(jnp.mean(rewards, where=agent.terminated))
    return ending - going_on / (1.0 - GAMMA)


def _gail(reward: str, absorbing: bool = True) -> GAIL:
    config = GAILConfig(reward=reward, absorbing=absorbing, disc_learning_rate=1e-2)
    return GAIL(dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, gamma=GAMMA)), SPEC)


def _airl(reward: str) -> AIRL:
    config = AIRLConfig(reward=reward, disc_learning_rate=1e-2, separate_reward=False)
    return AIRL(dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, gamma=GAMMA)), SPEC)


@pytest.mark.parametrize("make_algo", [lambda: _gail("logit"), lambda: _gail("positive"), lambda: _gail("negative"),
                                       lambda: _airl("shaped")],
                         ids=["gail-logit", "gail-positive", "gail-negative", "airl-shaped"])
def test_ending_is_worth_what_it_is_worth_to_the_expert(make_algo):
    algo = make_algo()
    # survival task: the expert never ends episodes, the agent does (CartPole's fall)
    assert _end_minus_go_on(algo, expert_rate=0.0, agent_rate=0.1) < -1.0
    # goal task: the expert ends episodes, the agent does not yet (MountainCar's goal)
    assert _end_minus_go_on(algo, expert_rate=0.1, agent_rate=0.02) > 1.0


def test_without_absorbing_states_the_check_catches_the_survival_bonus():
    """The positive reward without absorbing states pays for prolonging an episode even where
    the expert ends it: the goal-task check above fails for it."""
    assert _end_minus_go_on(_gail("positive", absorbing=False), expert_rate=0.1, agent_rate=0.02) < 0.0


def test_without_absorbing_states_the_check_catches_the_termination_bonus():
    """The negative reward without absorbing states pays for ending an episode even where the
    expert never does: the survival-task check above fails for it."""
    assert _end_minus_go_on(_gail("negative", absorbing=False), expert_rate=0.0, agent_rate=0.1) > 0.0


def test_saved_gail_reward_folds_the_absorbing_value(tmp_path):
    """The reward checkpoint a gail run saves gives the same rewards as the run's generator got."""
    from imitax.io.checkpoint import save_checkpoint
    from imitax.io.reward_checkpoint import load_reward

    algo = _gail("logit")
    key = jax.random.PRNGKey(3)
    state = algo.init(key, _transitions(key, 0.0))
    agent = _transitions(jax.random.fold_in(key, 1), 0.3)
    state, _ = algo.update_discriminator(state, agent)
    save_checkpoint(tmp_path / "reward", state.disc_params,
                    {"kind": "reward", "algorithm": "gail", "env_spec": SPEC.to_dict(),
                     "network": algo.discriminator.config(), "reward": "logit"})
    reward_fn, _, _ = load_reward(tmp_path / "reward")
    np.testing.assert_allclose(np.asarray(reward_fn(agent)), np.asarray(algo.reward(state, agent)), rtol=1e-5, atol=1e-5)
    assert float(jnp.abs(algo.reward(state, agent) - algo.discriminator.reward(
        state.disc_params, dataclasses.replace(agent, terminated=jnp.zeros(NUM, bool)), "logit")).max()) > 1.0
