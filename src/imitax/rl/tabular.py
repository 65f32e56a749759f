"""Exact planning on a `TabularMDP`: finite-horizon soft and hard value iteration,
state occupancy by the forward pass, and expected returns.

Time runs t = 0..H-1 (H = `mdp.horizon`); the reward r(s_t) is earned at every step and
V_H = 0. Policies are time-dependent: `policy: f32[H, S, A]`, `policy[t, s]` a
distribution over actions. All functions are pure and jitted (the horizon is static; a
discount is traced, so changing it does not recompile).

    Q_t(s, a) = r(s) + discount * sum_s' P(s' | s, a) V_{t+1}(s')
    soft:  V_t(s) = log sum_a exp Q_t(s, a),   pi_t(a | s) = exp(Q_t(s, a) - V_t(s))
    hard:  V_t(s) = max_a Q_t(s, a),           pi_t = one-hot argmax (first action on ties)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from imitax.envs.tabular import TabularMDP


@jax.jit
def soft_value_iteration(mdp: TabularMDP, state_reward: jnp.ndarray, discount: float = 1.0) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The maximum-causal-entropy (soft-optimal) policy for `state_reward: f32[S]`.

    Returns:
        policy: f32[H, S, A]; values: f32[H, S], the soft values V_t.
    """

    def backup(next_value: jnp.ndarray, _: None) -> tuple[jnp.ndarray, tuple[jnp.ndarray, jnp.ndarray]]:
        q = _q_values(mdp, state_reward, next_value, discount)
        value = jax.nn.logsumexp(q, axis=1)
        return value, (jnp.exp(q - value[:, None]), value)

    _, (policy, values) = jax.lax.scan(backup, jnp.zeros(mdp.num_states), None, length=mdp.horizon, reverse=True)
    return policy, values


@jax.jit
def value_iteration(mdp: TabularMDP, state_reward: jnp.ndarray, discount: float = 1.0) -> tuple[jnp.ndarray, jnp.ndarray]:
    """An optimal deterministic policy for `state_reward: f32[S]`.

    Returns:
        policy: f32[H, S, A], one-hot; values: f32[H, S], the optimal values V_t.
    """

    def backup(next_value: jnp.ndarray, _: None) -> tuple[jnp.ndarray, tuple[jnp.ndarray, jnp.ndarray]]:
        q = _q_values(mdp, state_reward, next_value, discount)
        return q.max(axis=1), (jax.nn.one_hot(q.argmax(axis=1), mdp.num_actions), q.max(axis=1))

    _, (policy, values) = jax.lax.scan(backup, jnp.zeros(mdp.num_states), None, length=mdp.horizon, reverse=True)
    return policy, values


def _q_values(mdp: TabularMDP, state_reward: jnp.ndarray, next_value: jnp.ndarray, discount: float) -> jnp.ndarray:
    """f32[S, A]"""
    return state_reward[:, None] + discount * jnp.einsum("sat,t->sa", mdp.transitions, next_value)


@jax.jit
def uniform_policy(mdp: TabularMDP) -> jnp.ndarray:
    """f32[H, S, A], every action equally likely."""
    return jnp.full((mdp.horizon, mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions)


@jax.jit
def state_distributions(mdp: TabularMDP, policy: jnp.ndarray) -> jnp.ndarray:
    """f32[H, S]: the distribution of s_t under `policy: f32[H, S, A]`; each row sums to 1."""

    def forward(dist: jnp.ndarray, policy_t: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        return jnp.einsum("s,sa,sat->t", dist, policy_t, mdp.transitions), dist

    return jax.lax.scan(forward, mdp.initial_dist, policy)[1]


@jax.jit
def state_visitation(mdp: TabularMDP, policy: jnp.ndarray, discount: float = 1.0) -> jnp.ndarray:
    """f32[S]: expected (discounted) visits sum_t discount^t P(s_t = s); sums to H when discount is 1."""
    return jnp.einsum("t,ts->s", discount ** jnp.arange(mdp.horizon), state_distributions(mdp, policy))


@jax.jit
def state_action_visitation(mdp: TabularMDP, policy: jnp.ndarray, discount: float = 1.0) -> jnp.ndarray:
    """f32[S, A]: expected (discounted) visits of each (state, action) pair."""
    weighted = discount ** jnp.arange(mdp.horizon)[:, None] * state_distributions(mdp, policy)
    return jnp.einsum("ts,tsa->sa", weighted, policy)


@jax.jit
def expected_return(mdp: TabularMDP, policy: jnp.ndarray, state_reward: jnp.ndarray) -> jnp.ndarray:
    """The exact expected undiscounted return of `policy` under `state_reward: f32[S]` (a scalar)."""
    return state_visitation(mdp, policy) @ state_reward
