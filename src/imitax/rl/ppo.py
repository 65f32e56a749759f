"""Proximal Policy Optimization (clipped objective, GAE), as pure functions.

`PPO(config, spec)` is a hashable description; its methods are pure:
`init(key) -> PPOState`, `act(state, key, obs)`, `update(state, rollout, rewards)`.
Rewards are an argument of `update`, so a learned reward (GAIL's discriminator, a
loaded reward checkpoint) replaces the environment's without touching this module.

Termination and truncation are told apart: the TD target bootstraps from the true
final observation after a time-limit cut and from nothing after a terminal state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from imitax.data.rollout import Rollout
from imitax.data.types import Transitions
from imitax.envs.spec import EnvSpec
from imitax.errors import INFINITY_ALLOWED, ConfigError, require_finite, require_non_negative, require_positive
from imitax.nets.compiled_init import init_network
from imitax.nets.distributions import DiagGaussian
from imitax.nets.mlp import check_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.nets.policy import Policy
from imitax.nets.value import ValueNet
from imitax.rl import rates
from imitax.rl.reward_scale import RewardScaler


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. `PPOConfig.for_env(id)` gives tuned defaults per task."""

    total_steps: int = 500_000
    """environment steps over all parallel environments"""
    num_envs: int = 16
    """parallel environments"""
    rollout_steps: int = 128
    """steps per environment between updates"""
    num_epochs: int = 4
    """passes over each rollout"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    learning_rate: float = 2.5e-4
    """Adam's learning rate; with `target_kl` the rate it starts from"""
    anneal_lr: bool = True
    """decay the learning rate linearly to zero (with `target_kl`: decay the KL target)"""
    target_kl: float = 0.0
    """adapt the learning rate after every update so that the KL divergence of the updated policy
    from the rollout's stays near this (x1.5 below half of it, /1.5 above twice it); 0: a fixed schedule"""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = dataclasses.field(default=0.5, metadata=INFINITY_ALLOWED)
    """global gradient-norm clip (inf: no clipping)"""
    normalize_obs: bool = False
    """keep running observation statistics and feed normalised observations"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    """initial log standard deviation of Gaussian policies"""
    normalize_rewards: bool = False
    """divide rewards by the running standard deviation of discounted returns (for learned rewards of any scale)"""

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_steps

    @property
    def num_updates(self) -> int:
        return max(1, self.total_steps // self.batch_size)

    @property
    def decays_learning_rate(self) -> bool:
        """Whether the rate decays linearly to zero over the run (`anneal_lr` without `target_kl`,
        which adapts the rate instead)."""
        return self.anneal_lr and self.target_kl == 0

    def validate(self) -> PPOConfig:
        require_positive(self, "ppo", "total_steps", "num_envs", "rollout_steps", "num_epochs", "num_minibatches",
                         "learning_rate", "max_grad_norm")
        require_non_negative(self, "ppo", "clip_eps", "ent_coef", "vf_coef", "target_kl")
        require_finite(self, "ppo", "init_log_std")
        check_network(self.hidden_sizes, self.activation, hidden_name="ppo.hidden_sizes", activation_name="ppo.activation")
        if self.batch_size % self.num_minibatches:
            raise ConfigError(
                f"num_envs * rollout_steps = {self.batch_size} must be divisible by num_minibatches = {self.num_minibatches}"
            )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"ppo.{name} must be in [0, 1], got {getattr(self, name)}")
        return self

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> PPOConfig:
        """Defaults that reach expert level on the task, with `overrides` applied."""
        return dataclasses.replace(cls(**TUNED.get(env_id, {})), **overrides)


# Expert-training settings per task (only `imitax expert` and the benchmarks' experts use them;
# imitation methods' generators have their own defaults). Measured with benchmarks/experts.py
# (built-in tasks: 3 seeds, 100 episodes each; figures in benchmarks/results/experts.json) and
# benchmarks/experts/README.md (MuJoCo, Gymnasium backend).
# Reward normalisation with no entropy bonus is what solved the sparse/goal tasks: on
# MountainCar-v0 plain PPO never sees the flag (-200 = random on every seed, also with 64 envs
# or observation normalisation alone); with normalised rewards, short rollouts (16 steps, many
# small updates) and lambda 0.98 every seed finds it and ends near -100 at 2M steps
# (at 1.5M, 3 of 6 seeds reach -110). A random-network-distillation novelty bonus on top
# (0.3 x the bonus normalised by its running return spread) reached it on 4 of 6 at 1.5M and
# did not help without reward normalisation, so it was left out.
_NORMALIZED = dict(normalize_obs=True, normalize_rewards=True, ent_coef=0.0)
# MuJoCo (Gymnasium backend, host loop): CleanRL-style continuous-control PPO.
_MUJOCO = dict(num_envs=16, rollout_steps=128, num_epochs=10, num_minibatches=32, learning_rate=3e-4,
               **_NORMALIZED)
TUNED: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"learning_rate": 1e-3},
    "Acrobot-v1": dict(total_steps=1_000_000, **_NORMALIZED),
    "Pendulum-v1": dict(
        total_steps=1_000_000, num_envs=16, rollout_steps=128, num_epochs=10, num_minibatches=8,
        learning_rate=1e-3, gamma=0.95, ent_coef=0.0, normalize_obs=True, init_log_std=-0.5,
    ),
    "MountainCar-v0": dict(total_steps=2_000_000, rollout_steps=16, gae_lambda=0.98, learning_rate=3e-4,
                           anneal_lr=False, **_NORMALIZED),
    "MountainCarContinuous-v0": dict(total_steps=1_000_000, normalize_obs=True, normalize_rewards=True, ent_coef=0.0),
    # 89 of 100 evaluation episodes balance for all 1,000 steps; 11 fall after ~110-130 steps. Tried
    # (one seed each, mean over 100 episodes): gamma 0.99/0.98/0.995, initial log-std 0/-1/-2, 500k or
    # 1M steps: 2,171 to 8,448; this is the best.
    "InvertedDoublePendulum-v5": dict(total_steps=500_000, gamma=0.995, init_log_std=-2.0, **_MUJOCO),
    "Reacher-v5": dict(total_steps=1_000_000, **_MUJOCO),
}


# Bounds of the KL-adaptive learning rate (`target_kl`), and its factor per update.
ADAPTIVE_LR_MIN, ADAPTIVE_LR_MAX, ADAPTIVE_LR_FACTOR = 1e-6, 1e-2, 1.5


@struct.dataclass
class PPOState:
    """params: {"policy": flax params, "value": flax params}."""

    params: dict[str, Any]
    opt_state: optax.OptState
    obs_norm: ObsNormalizer
    key: jax.Array
    update_step: jnp.ndarray
    reward_scaler: RewardScaler

    @property
    def policy_params(self) -> dict[str, Any]:
        """What `Policy.distribution` takes (and what a policy checkpoint stores)."""
        return {"net": self.params["policy"], "obs_norm": self.obs_norm}


@dataclasses.dataclass(frozen=True)
class PPO:
    config: PPOConfig
    spec: EnvSpec

    @property
    def policy(self) -> Policy:
        c = self.config
        return Policy(self.spec, tuple(c.hidden_sizes), c.activation, c.init_log_std)

    @property
    def value_net(self) -> ValueNet:
        return ValueNet(tuple(self.config.hidden_sizes), self.config.activation)

    def optimizer(self) -> optax.GradientTransformation:
        """Adam with the rate in its state (`imitax.rl.rates`): annealed to zero over the run, or
        with `target_kl` set after every update by `adapt_learning_rate`."""
        c = self.config
        decay_steps = c.num_updates * c.num_epochs * c.num_minibatches if c.decays_learning_rate else None
        return optax.chain(optax.clip_by_global_norm(c.max_grad_norm),
                           rates.adam(c.learning_rate, decay_steps, eps=1e-5, adaptive=c.target_kl > 0))

    def kl_target(self, update_step: jnp.ndarray) -> jnp.ndarray:
        """f32[]: the KL target of update `update_step`, decayed linearly to zero with `anneal_lr`."""
        c = self.config
        if not c.anneal_lr:
            return jnp.asarray(c.target_kl, jnp.float32)
        return c.target_kl * jnp.clip(1.0 - update_step / c.num_updates, 0.0, 1.0)

    @staticmethod
    def adapt_learning_rate(opt_state: optax.OptState, kl: jnp.ndarray, target: jnp.ndarray) -> optax.OptState:
        """The rate x1.5 when `kl` < target / 2, / 1.5 when `kl` > 2 target (within
        [ADAPTIVE_LR_MIN, ADAPTIVE_LR_MAX]), as in rl_games' adaptive schedule."""
        rate = rates.rate(opt_state)
        rate = jnp.where(kl > 2.0 * target, rate / ADAPTIVE_LR_FACTOR, jnp.where(kl < 0.5 * target, rate * ADAPTIVE_LR_FACTOR, rate))
        return rates.with_rate(opt_state, jnp.clip(rate, ADAPTIVE_LR_MIN, ADAPTIVE_LR_MAX))

    def with_learning_rate(self, state: PPOState, learning_rate: Any) -> PPOState:
        """`state` with the policy's (starting) learning rate replaced: f32[] or float (a sweep's point)."""
        return state.replace(opt_state=rates.with_rate(state.opt_state, learning_rate))

    def init(self, key: jax.Array) -> PPOState:
        key, policy_key, value_key = jax.random.split(key, 3)
        params = {
            "policy": self.policy.init(policy_key)["net"],
            "value": init_network(self.value_net, value_key, ((1, self.spec.obs_dim),)),
        }
        return PPOState(params, self.optimizer().init(params), ObsNormalizer.identity(self.spec.obs_dim),
                        key, jnp.zeros((), jnp.int32), RewardScaler.init(self.config.num_envs))

    def act(self, state: PPOState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        """obs: f32[n, obs_dim] -> actions and {"log_prob": f32[n], "value": f32[n]}."""
        dist = self.policy.distribution(state.policy_params, obs)
        actions = dist.sample(key)
        extras = {"log_prob": dist.log_prob(actions), "value": self.value(state, obs)}
        return actions, extras

    def value(self, state: PPOState, obs: jnp.ndarray) -> jnp.ndarray:
        return self.value_net.apply(state.params["value"], state.obs_norm(obs))

    def update(self, state: PPOState, rollout: Rollout, rewards: jnp.ndarray, demos: Transitions | None = None,
               bc_weight: float | jnp.ndarray = 0.0) -> tuple[PPOState, dict[str, jnp.ndarray]]:
        """One PPO update from a rollout `[T, N]` scored with `rewards: f32[T, N]`. With `demos`
        (fields `[num_demo, ...]`) every minibatch's loss adds `bc_weight` times the negative
        log-likelihood of as many demonstrated actions drawn from them (behavioural cloning)."""
        c = self.config
        tr = rollout.transitions
        raw_rewards = rewards
        reward_scaler = state.reward_scaler
        if c.normalize_rewards:
            reward_scaler = reward_scaler.update(rewards, tr.dones, c.gamma)
            rewards = reward_scaler(rewards)
        next_values = self.value(state, tr.next_obs)
        advantages, targets = gae(
            rewards, rollout.extras["value"], next_values, tr.terminated, tr.dones, c.gamma, c.gae_lambda
        )
        flat = jax.tree.map(
            lambda x: x.reshape(-1, *x.shape[2:]),
            (tr.obs, tr.actions, rollout.extras["log_prob"], rollout.extras["value"], advantages, targets),
        )
        optimizer = self.optimizer()
        minibatch_size = c.batch_size // c.num_minibatches

        def epoch(carry: tuple[Any, Any, jax.Array], _: None) -> tuple[tuple[Any, Any, jax.Array], dict[str, jnp.ndarray]]:
            params, opt_state, key = carry
            key, perm_key = jax.random.split(key)
            perm = jax.random.permutation(perm_key, c.batch_size)
            minibatches = jax.tree.map(lambda x: x[perm].reshape(c.num_minibatches, -1, *x.shape[1:]), flat)
            demo_batches = None
            if demos is not None:
                rows = jax.random.randint(jax.random.fold_in(perm_key, 1), (c.num_minibatches, minibatch_size), 0, demos.obs.shape[0])
                demo_batches = (demos.obs[rows], demos.actions[rows])

            def minibatch_step(carry: tuple[Any, Any], batch: Any) -> tuple[tuple[Any, Any], dict[str, jnp.ndarray]]:
                params, opt_state = carry
                grads, metrics = jax.grad(self._loss, has_aux=True)(params, state.obs_norm, *batch, bc_weight)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), metrics

            (params, opt_state), metrics = jax.lax.scan(minibatch_step, (params, opt_state), (minibatches, demo_batches))
            return (params, opt_state, key), metrics

        key, epoch_key = jax.random.split(state.key)
        (params, opt_state, _), metrics = jax.lax.scan(
            epoch, (state.params, state.opt_state, epoch_key), None, length=c.num_epochs
        )
        metrics = jax.tree.map(jnp.mean, metrics)
        if c.target_kl > 0:
            new_log_prob = self.policy.distribution({"net": params["policy"], "obs_norm": state.obs_norm}, flat[0]).log_prob(flat[1])
            log_ratio = new_log_prob - flat[2]
            metrics["update_kl"] = (jnp.exp(log_ratio) - 1 - log_ratio).mean()
            opt_state = self.adapt_learning_rate(opt_state, metrics["update_kl"], self.kl_target(state.update_step))
            metrics["learning_rate"] = rates.rate(opt_state)
        obs_norm = state.obs_norm.update(tr.obs) if c.normalize_obs else state.obs_norm
        new_state = PPOState(params, opt_state, obs_norm, key, state.update_step + 1, reward_scaler)
        metrics["reward_mean"] = raw_rewards.mean()
        return new_state, metrics

    def _loss(self, params: dict[str, Any], obs_norm: ObsNormalizer, batch: Any, demo_batch: Any = None,
              bc_weight: float | jnp.ndarray = 0.0) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        c = self.config
        obs, actions, old_log_prob, old_value, advantages, targets = batch
        dist = self.policy.distribution({"net": params["policy"], "obs_norm": obs_norm}, obs)
        log_prob = dist.log_prob(actions)
        ratio = jnp.exp(log_prob - old_log_prob)
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -jnp.minimum(ratio * advantages, jnp.clip(ratio, 1 - c.clip_eps, 1 + c.clip_eps) * advantages).mean()
        value = self.value_net.apply(params["value"], obs_norm(obs))
        value_clipped = old_value + jnp.clip(value - old_value, -c.clip_eps, c.clip_eps)
        value_loss = 0.5 * jnp.maximum((value - targets) ** 2, (value_clipped - targets) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy
        metrics = {
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
            "approx_kl": ((ratio - 1) - jnp.log(ratio)).mean(),
        }
        if demo_batch is not None:
            demo_obs, demo_actions = demo_batch
            demo_dist = self.policy.distribution({"net": params["policy"], "obs_norm": obs_norm}, demo_obs)
            if isinstance(demo_dist, DiagGaussian):
                # the log-std stays PPO's: cloning a deterministic expert would shrink it and end exploration
                demo_dist = DiagGaussian(demo_dist.mean, jax.lax.stop_gradient(demo_dist.std))
            metrics["bc_nll"] = -demo_dist.log_prob(demo_actions).mean()
            loss = loss + bc_weight * metrics["bc_nll"]
        return loss, metrics


def gae(
    rewards: jnp.ndarray,
    values: jnp.ndarray,
    next_values: jnp.ndarray,
    terminated: jnp.ndarray,
    dones: jnp.ndarray,
    gamma: float,
    lam: float,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Generalised advantage estimates, all arrays `[T, N]`.

    `next_values` are V of the true next observations: a truncated step bootstraps from
    it, a terminated one does not, and no estimate crosses an episode boundary.
    Returns (advantages, value targets).
    """
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def backwards(next_advantage: jnp.ndarray, inputs: tuple[jnp.ndarray, jnp.ndarray]) -> tuple[jnp.ndarray, jnp.ndarray]:
        delta, done = inputs
        advantage = delta + gamma * lam * (1.0 - done) * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(backwards, jnp.zeros_like(deltas[0]), (deltas, dones), reverse=True)
    return advantages, advantages + values
