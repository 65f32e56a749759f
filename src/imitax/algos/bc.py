"""Behavioral cloning: maximum likelihood of the expert's actions.

Loss per minibatch: -log pi(a_E | s_E) - ent_coef * H(pi(.|s_E)) + l2_coef * ||theta||^2.
Discrete spaces fit a categorical, Box spaces a Gaussian (its mean is the deterministic
action). Observation statistics come from the demonstrations.

The budget is `num_steps` gradient steps, each on `batch_size` transitions drawn uniformly
with replacement, whatever the dataset's size: one episode gets as much training as a
thousand (a budget in epochs gave one Pendulum episode 100 steps). The whole run (the
steps, and on JAX environments an evaluation at each log point) compiles into one
program; `num_seeds` vmaps independent runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from imitax.data.rollout import episode_returns_jax
from imitax.data.types import Transitions
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import INFINITY_ALLOWED, ConfigError, require_non_negative, require_positive
from imitax.nets.mlp import check_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.nets.policy import Policy
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, run_compiled


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Behavioral cloning hyperparameters."""

    num_steps: int = 2_000
    """gradient steps, whatever the number of demonstrations (see benchmarks/bc_budget.py)"""
    batch_size: int = 256
    """transitions per gradient step, drawn uniformly with replacement"""
    learning_rate: float = 1e-3
    ent_coef: float = 1e-3
    """entropy bonus (keeps Gaussian policies from collapsing)"""
    l2_coef: float = 0.0
    """L2 penalty on the network weights"""
    max_grad_norm: float = dataclasses.field(default=1.0, metadata=INFINITY_ALLOWED)
    """global gradient-norm clip (inf: no clipping)"""
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    eval_episodes: int = 10
    """evaluation episodes on JAX environments at each log point (0: none)"""
    log_every: int = 200
    """gradient steps between log points (metrics rows, evaluations)"""

    def validate(self) -> BCConfig:
        require_positive(self, "bc", "num_steps", "batch_size", "learning_rate", "log_every", "max_grad_norm")
        require_non_negative(self, "bc", "ent_coef", "l2_coef", "eval_episodes")
        check_network(self.hidden_sizes, self.activation, hidden_name="bc.hidden_sizes", activation_name="bc.activation")
        return self

    def num_log_points(self) -> int:
        """Log points of a `train_bc` run; every chunk between two has the same static length.
        (DAgger's retraining never logs, so it takes any `num_steps`.)"""
        if self.num_steps % self.log_every:
            raise ConfigError(f"bc.num_steps ({self.num_steps}) must be a multiple of bc.log_every ({self.log_every})")
        return self.num_steps // self.log_every


@struct.dataclass
class BCState:
    params: dict[str, Any]  # {"net": ..., "obs_norm": ObsNormalizer}; only "net" is optimised
    opt_state: optax.OptState
    key: jax.Array
    step: jnp.ndarray


@dataclasses.dataclass(frozen=True)
class BC:
    config: BCConfig
    spec: EnvSpec

    @property
    def policy(self) -> Policy:
        return Policy(self.spec, tuple(self.config.hidden_sizes), self.config.activation, init_log_std=-0.5)

    def optimizer(self) -> optax.GradientTransformation:
        return optax.chain(optax.clip_by_global_norm(self.config.max_grad_norm), optax.adam(self.config.learning_rate))

    def init(self, key: jax.Array, obs_norm: ObsNormalizer) -> BCState:
        key, init_key = jax.random.split(key)
        params = {**self.policy.init(init_key), "obs_norm": obs_norm}
        return BCState(params, self.optimizer().init(params["net"]), key, jnp.zeros((), jnp.int32))

    def loss(self, net_params: Any, obs_norm: ObsNormalizer, obs: jnp.ndarray, actions: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        """obs: f32[batch, obs_dim]; actions: i32[batch] or f32[batch, action_dim]."""
        dist = self.policy.distribution({"net": net_params, "obs_norm": obs_norm}, obs)
        neg_log_likelihood = -dist.log_prob(actions).mean()
        entropy = dist.entropy().mean()
        l2 = sum(jnp.sum(w**2) for w in jax.tree.leaves(net_params))
        loss = neg_log_likelihood - self.config.ent_coef * entropy + self.config.l2_coef * l2
        mode = dist.mode()
        fit = (mode == actions).mean() if self.spec.discrete else -((mode - actions) ** 2).mean()
        return loss, {"loss": loss, "neg_log_likelihood": neg_log_likelihood, "entropy": entropy,
                      "accuracy" if self.spec.discrete else "neg_mse": fit}

    def update(self, state: BCState, obs: jnp.ndarray, actions: jnp.ndarray) -> tuple[BCState, dict[str, jnp.ndarray]]:
        """One gradient step on a minibatch."""
        grads, metrics = jax.grad(self.loss, has_aux=True)(state.params["net"], state.params["obs_norm"], obs, actions)
        updates, opt_state = self.optimizer().update(grads, state.opt_state, state.params["net"])
        params = {**state.params, "net": optax.apply_updates(state.params["net"], updates)}
        return state.replace(params=params, opt_state=opt_state, step=state.step + 1), metrics

    def fit(self, state: BCState, obs: jnp.ndarray, actions: jnp.ndarray, count: Any,
            num_steps: Any) -> tuple[BCState, dict[str, jnp.ndarray]]:
        """`num_steps` gradient steps, each on `batch_size` rows drawn uniformly with replacement
        from rows `[0, count)` of `obs: f32[rows, obs_dim]` and `actions: i32[rows]` or
        `f32[rows, action_dim]`. `count` and `num_steps` may be traced (DAgger's aggregate
        grows); shapes stay static. Returns the metrics averaged over the steps (0 when none)."""
        batch = self.config.batch_size
        metric_shapes = jax.eval_shape(lambda: self.update(state, obs[:batch], actions[:batch])[1])
        zeros = jax.tree.map(lambda m: jnp.zeros(m.shape, m.dtype), metric_shapes)

        def gradient_step(_: Any, carry: tuple[BCState, dict[str, jnp.ndarray]]) -> tuple[BCState, dict[str, jnp.ndarray]]:
            state, sums = carry
            key, rows_key = jax.random.split(state.key)
            rows = jax.random.randint(rows_key, (batch,), 0, jnp.maximum(count, 1))
            state, metrics = self.update(state.replace(key=key), obs[rows], actions[rows])
            return state, jax.tree.map(jnp.add, sums, metrics)

        state, sums = jax.lax.fori_loop(0, num_steps, gradient_step, (state, zeros))
        return state, jax.tree.map(lambda total: total / jnp.maximum(num_steps, 1), sums)


@dataclasses.dataclass
class BCResult:
    """params: policy params with a leading [num_seeds] axis;
    history: {metric: [num_seeds, num_steps // log_every]}, one entry per log point (metrics
    averaged over the log_every steps before it; episode_return on JAX environments)."""

    bc: BC
    params: dict[str, Any]
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float

    @property
    def gradient_steps(self) -> int:
        """Gradient steps per seed."""
        return self.bc.config.num_steps


def train_bc(
    demos: Transitions,
    spec: EnvSpec,
    config: BCConfig = BCConfig(),
    seed: int = 0,
    num_seeds: int = 1,
    eval_env: JaxEnv | None = None,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> BCResult:
    """Clone the actions in `demos` (flattened expert transitions)."""
    num_logs = config.validate().num_log_points()
    bc = BC(config, spec)
    demos = Transitions(*(jnp.asarray(x) for x in (demos.obs, demos.actions, demos.rewards, demos.next_obs,
                                                     demos.terminated, demos.truncated)))
    obs_norm = ObsNormalizer.identity(spec.obs_dim).update(demos.obs)
    evaluate = isinstance(eval_env, JaxEnv) and config.eval_episodes > 0

    def init(key: jax.Array) -> tuple[BCState, Transitions]:
        return bc.init(key, obs_norm), demos

    def step(carry: tuple[BCState, Transitions]) -> tuple[tuple[BCState, Transitions], dict[str, jnp.ndarray]]:
        state, data = carry
        state, metrics = bc.fit(state, data.obs, data.actions, data.obs.shape[0], config.log_every)
        if evaluate:
            key, eval_key = jax.random.split(state.key)
            state = state.replace(key=key)
            params = state.params
            returns, _ = episode_returns_jax(
                eval_env, lambda k, o: bc.policy.act(params, k, o, deterministic=True), eval_key, config.eval_episodes
            )
            metrics["episode_return"] = returns.mean()
        return (state, data), metrics

    result = run_compiled(init, step, jax.random.PRNGKey(seed), num_logs, num_seeds=num_seeds, on_chunk=on_chunk,
                          checkpoint=checkpoint)
    return BCResult(bc, result.carry[0].params, result.history, result.compile_s, result.run_s)
