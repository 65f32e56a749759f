"""Soft actor-critic (Haarnoja et al. 2018) for Box and Discrete actions, as pure functions.

`SAC(config, spec)` is a hashable description; its methods are pure:
`init(key) -> SACState`, `act(state, key, obs)`, `update(state, batch, rewards)` (one
gradient step of the critics, the actor and the temperature, then the target critics'
Polyak step). Rewards are an argument of `update`, as in PPO, so a learned reward replaces
the environment's without touching this module.

Box actions: a tanh-squashed Gaussian scaled to the bounds, twin Q(s, a), the
reparameterised actor loss, target entropy -action_dim. Discrete actions (Christodoulou
2019): a categorical policy, twin Q(s, .) over all actions, expectations over actions taken
exactly instead of sampled, target entropy `target_entropy_scale` * log(n).
The temperature alpha is learned (`learn_alpha`) or fixed at `init_alpha`.

Termination and truncation are told apart: the target bootstraps from the true next
observation unless the transition is terminal.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from imitax.data.types import Transitions
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError, require_non_negative, require_positive
from imitax.nets.absorbing import absorbing_value
from imitax.nets.mlp import check_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.nets.policy import Policy
from imitax.nets.q import QEnsemble
from imitax.nets.squashed_policy import SquashedGaussianPolicy, check_bounded
from imitax.rl import rates


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters. `SACConfig.for_env(id)` adds the task's budget."""

    total_steps: int = 100_000
    """environment steps over all parallel environments"""
    num_envs: int = 1
    """parallel environments"""
    rollout_steps: int = 1
    """steps per environment between updates"""
    gradient_steps: int = 1
    """gradient steps per update (update-to-data ratio: gradient_steps / (num_envs * rollout_steps))"""
    learning_starts: int = 5_000
    """environment steps of uniformly random actions before the first update"""
    buffer_size: int = 1_000_000
    """replay capacity in transitions (at most total_steps are allocated)"""
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 0.005
    """Polyak step of the target critics"""
    actor_learning_rate: float = 3e-4
    critic_learning_rate: float = 3e-4
    alpha_learning_rate: float = 3e-4
    init_alpha: float = 1.0
    """initial (or, without learn_alpha, fixed) entropy temperature"""
    learn_alpha: bool = True
    """tune alpha towards the target entropy"""
    # 0.89 (CleanRL's Atari value) on CartPole-v1: the entropy settled a hair below its target
    # (0.61 against 0.617 of at most 0.69), Adam grew alpha at a constant rate all the same, to
    # 46,000 with Q at 780,000 by 60k steps. At 0.5 alpha stayed at 0.15-0.4, training returns
    # reached 500 by 40k steps (one seed, the environment's reward).
    target_entropy_scale: float = 0.5
    """Discrete actions: target entropy = this x log(n) (Box: -action_dim)"""
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    num_critics: int = 2
    """critics trained side by side; targets and the actor use their minimum (2: clipped double Q)"""
    absorbing_entropy: bool = False
    """a terminal transition's target also counts the entropy bonus the absorbing state would pay
    forever, so that ending an episode does not escape its per-step cost on Box actions
    (`SAC.absorbing_entropy`; on for SQIL)"""

    @property
    def steps_per_iteration(self) -> int:
        return self.num_envs * self.rollout_steps

    @property
    def num_iterations(self) -> int:
        return max(1, self.total_steps // self.steps_per_iteration)

    @property
    def buffer_capacity(self) -> int:
        return max(self.steps_per_iteration, min(self.buffer_size, self.num_iterations * self.steps_per_iteration))

    def unused_fields(self) -> dict[str, str]:
        """{field: why this config does not use it}: a sweep over one of them is refused."""
        return {} if self.learn_alpha else {"alpha_learning_rate": "the temperature is fixed at init_alpha "
                                                                   "(learn_alpha is False)"}

    def validate(self) -> SACConfig:
        require_positive(self, "sac", "total_steps", "num_envs", "rollout_steps", "gradient_steps", "buffer_size",
                         "batch_size", "num_critics", "actor_learning_rate", "critic_learning_rate", "alpha_learning_rate",
                         "init_alpha")
        require_non_negative(self, "sac", "learning_starts", "target_entropy_scale")
        check_network(self.hidden_sizes, self.activation, hidden_name="sac.hidden_sizes", activation_name="sac.activation")
        for name in ("gamma", "tau"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"sac.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.buffer_size < self.steps_per_iteration:
            raise ConfigError(f"sac.buffer_size {self.buffer_size} is smaller than one iteration's "
                              f"num_envs * rollout_steps = {self.steps_per_iteration} transitions; expected at least that")
        return self

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> SACConfig:
        """The defaults with the task's budget, `overrides` applied."""
        return dataclasses.replace(cls(**SAC_BUDGETS.get(env_id, {})), **overrides)


# Budgets only (environment steps): the method's settings are the same everywhere.
SAC_BUDGETS: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {"total_steps": 20_000, "learning_starts": 1_000},
    "InvertedPendulum-v5": {"total_steps": 30_000},  # 1,000.0 over 100 episodes (seed 0; 105 at 15k)
}


@struct.dataclass
class SACState:
    """Network parameters (critics stacked on a leading [num_critics] axis), optimiser
    states, log alpha: f32[], key and update count."""

    actor_params: Any
    critic_params: Any
    target_critic_params: Any
    log_alpha: jnp.ndarray
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    alpha_opt_state: optax.OptState
    obs_norm: ObsNormalizer
    key: jax.Array
    update_step: jnp.ndarray

    @property
    def policy_params(self) -> dict[str, Any]:
        """What the policy's `distribution`/`act` take (and what a policy checkpoint stores)."""
        return {"net": self.actor_params, "obs_norm": self.obs_norm}


@dataclasses.dataclass(frozen=True)
class SAC:
    config: SACConfig
    spec: EnvSpec

    @property
    def policy(self) -> SquashedGaussianPolicy | Policy:
        c = self.config
        if self.spec.discrete:
            return Policy(self.spec, tuple(c.hidden_sizes), c.activation)
        return SquashedGaussianPolicy(self.spec, tuple(c.hidden_sizes), c.activation)

    @property
    def critics(self) -> QEnsemble:
        return QEnsemble(self.spec, tuple(self.config.hidden_sizes), self.config.activation, self.config.num_critics)

    @property
    def target_entropy(self) -> float:
        if self.spec.discrete:
            return float(self.config.target_entropy_scale * np.log(self.spec.action_space.n))
        return -float(self.spec.action_dim)

    def _optimizers(self) -> tuple[optax.GradientTransformation, ...]:
        # rates held in the optimizer states (imitax.rl.rates): a program runs any rates, and a
        # sweep vmaps over them (`with_learning_rates`)
        c = self.config
        return rates.adam(c.actor_learning_rate), rates.adam(c.critic_learning_rate), rates.adam(c.alpha_learning_rate)

    def with_learning_rates(self, state: SACState, actor: Any = None, critic: Any = None, alpha: Any = None) -> SACState:
        """`state` with the given learning rates (floats or f32[]) set in its optimizer states."""
        changes = {name: rates.with_rate(getattr(state, name), value) for name, value in
                   (("actor_opt_state", actor), ("critic_opt_state", critic), ("alpha_opt_state", alpha))
                   if value is not None}
        return state.replace(**changes)

    def init(self, key: jax.Array) -> SACState:
        if not self.spec.discrete:
            check_bounded(self.spec, "SAC")
        key, actor_key, critic_key = jax.random.split(key, 3)
        actor_params = self.policy.init(actor_key)["net"]
        critic_params = self.critics.init(critic_key)
        log_alpha = jnp.log(jnp.asarray(self.config.init_alpha, jnp.float32))
        actor_opt, critic_opt, alpha_opt = self._optimizers()
        return SACState(actor_params, critic_params, critic_params, log_alpha, actor_opt.init(actor_params),
                        critic_opt.init(critic_params), alpha_opt.init(log_alpha),
                        ObsNormalizer.identity(self.spec.obs_dim), key, jnp.zeros((), jnp.int32))

    def act(self, state: SACState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        """obs: f32[n, obs_dim] -> sampled actions (in bounds) and no extras."""
        return self.policy.act(state.policy_params, key, obs), {}

    def soft_value(self, critic_params: Any, state: SACState, key: jax.Array, obs: jnp.ndarray) -> jnp.ndarray:
        """V(s) = E_a~pi[min_i Q_i(s, a) - alpha log pi(a|s)] under the current policy: f32[B]
        (Box: one sampled action per row; Discrete: the exact expectation)."""
        return soft_value(self, critic_params, state.actor_params, state.obs_norm, state.log_alpha, key, obs)

    def q_values(self, critic_params: Any, state: SACState, batch: Transitions) -> jnp.ndarray:
        """Every critic's Q(s, a) of the batch's actions: f32[num_critics, B]."""
        return q_values(self, critic_params, state.obs_norm, batch)

    def apply_critic_grads(self, state: SACState, grads: Any) -> SACState:
        """One optimiser step of the critics along `grads` (shaped like `critic_params`)."""
        _, critic_opt, _ = self._optimizers()
        updates, critic_opt_state = critic_opt.update(grads, state.critic_opt_state, state.critic_params)
        return state.replace(critic_params=optax.apply_updates(state.critic_params, updates),
                             critic_opt_state=critic_opt_state)

    def _actor_loss(self, actor_params: Any, state: SACState, key: jax.Array,
                    obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """The actor's loss and the policy's mean entropy estimate -E[log pi]."""
        alpha = jnp.exp(state.log_alpha)
        first, second = policy_terms(self, actor_params, state.obs_norm, key, obs)
        if self.spec.discrete:
            q = self.critics.all_values(state.critic_params, state.obs_norm(obs)).min(0)
            return (first * (alpha * second - q)).sum(-1).mean(), -(first * second).sum(-1).mean()
        q = self.critics.values(state.critic_params, state.obs_norm(obs), first).min(0)
        return (alpha * second - q).mean(), -second.mean()

    def update_actor(self, state: SACState, key: jax.Array, obs: jnp.ndarray) -> tuple[SACState, dict[str, jnp.ndarray]]:
        """One step of the actor on observations `obs: f32[B, obs_dim]` against the current
        critics, the temperature's step (`learn_alpha`), then the target critics' Polyak step."""
        c = self.config
        actor_opt, _, alpha_opt = self._optimizers()
        (actor_loss, entropy), actor_grads = jax.value_and_grad(self._actor_loss, has_aux=True)(
            state.actor_params, state, key, obs)
        updates, actor_opt_state = actor_opt.update(actor_grads, state.actor_opt_state, state.actor_params)
        actor_params = optax.apply_updates(state.actor_params, updates)

        log_alpha, alpha_opt_state = state.log_alpha, state.alpha_opt_state
        if c.learn_alpha:
            # d/d log_alpha of -log_alpha * (target_entropy - entropy): alpha grows while entropy is below target
            alpha_grad = jax.lax.stop_gradient(entropy - self.target_entropy)
            updates, alpha_opt_state = alpha_opt.update(alpha_grad, state.alpha_opt_state, state.log_alpha)
            log_alpha = optax.apply_updates(state.log_alpha, updates)

        new_state = state.replace(actor_params=actor_params, actor_opt_state=actor_opt_state, log_alpha=log_alpha,
                                  alpha_opt_state=alpha_opt_state)
        return self.update_targets(new_state), {"actor_loss": actor_loss, "entropy": entropy, "alpha": jnp.exp(log_alpha)}

    def absorbing_entropy(self, state: SACState, terminated: jnp.ndarray) -> jnp.ndarray:
        """f32[B]: after each terminal transition (`terminated`: [B]), the discounted entropy bonus
        of the absorbing loop, gamma / (1 - gamma) * alpha * min(target entropy, 0); 0 elsewhere.

        A Box policy near its target entropy has negative differential entropy, so SAC's bonus
        -alpha log pi is a cost on every step, and a backup that stops at termination lets an
        agent escape it by ending the episode. Paying the same bonus in the absorbing state makes
        ending an episode neutral to it. A Discrete policy's entropy is never negative, so its bonus
        is a per-step reward that ending forfeits: nothing is added there."""
        per_step = jnp.exp(state.log_alpha) * min(self.target_entropy, 0.0)
        return jax.lax.stop_gradient(absorbing_value(per_step, terminated, self.config.gamma))

    def update_targets(self, state: SACState) -> SACState:
        """The target critics' Polyak step; counts the update."""
        target_critic_params = optax.incremental_update(state.critic_params, state.target_critic_params, self.config.tau)
        return state.replace(target_critic_params=target_critic_params, update_step=state.update_step + 1)

    def update(self, state: SACState, batch: Transitions, rewards: jnp.ndarray) -> tuple[SACState, dict[str, jnp.ndarray]]:
        """One gradient step on a replay batch `[B, ...]` scored with `rewards: f32[B]`."""
        key, target_key, actor_key = jax.random.split(state.key, 3)
        next_value = self.soft_value(state.target_critic_params, state, target_key, batch.next_obs)
        if self.config.absorbing_entropy:
            rewards = rewards + self.absorbing_entropy(state, batch.terminated)
        targets = jax.lax.stop_gradient(rewards + self.config.gamma * (1.0 - batch.terminated.astype(jnp.float32)) * next_value)

        def td_loss(critic_params: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
            q = self.q_values(critic_params, state, batch)
            loss = ((q - targets[None]) ** 2).mean(1).sum()
            return loss, {"critic_loss": loss, "q_mean": q.mean()}

        grads, metrics = jax.grad(td_loss, has_aux=True)(state.critic_params)
        state = self.apply_critic_grads(state, grads)
        state, actor_metrics = self.update_actor(state, actor_key, batch.obs)
        return state.replace(key=key), {**metrics, **actor_metrics, "reward_mean": rewards.mean()}


def policy_terms(sac: SAC, actor_params: Any, obs_norm: ObsNormalizer, key: jax.Array,
                 obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Box: (sampled actions f32[B, action_dim], log pi f32[B]).
    Discrete: (probabilities f32[B, n], log probabilities f32[B, n])."""
    params = {"net": actor_params, "obs_norm": obs_norm}
    if sac.spec.discrete:
        log_probs = jax.nn.log_softmax(sac.policy.distribution(params, obs).logits)
        return jnp.exp(log_probs), log_probs
    return sac.policy.sample_and_log_prob(params, key, obs)


def soft_value(sac: SAC, critic_params: Any, actor_params: Any, obs_norm: ObsNormalizer, log_alpha: jnp.ndarray,
               key: jax.Array, obs: jnp.ndarray) -> jnp.ndarray:
    """V(s) = E_a~pi[min_i Q_i(s, a) - alpha log pi(a|s)]: f32[B], from explicit parameters
    (a saved IQ-Learn reward has no optimiser states)."""
    alpha = jnp.exp(log_alpha)
    first, second = policy_terms(sac, actor_params, obs_norm, key, obs)
    if sac.spec.discrete:
        q = sac.critics.all_values(critic_params, obs_norm(obs)).min(0)
        return (first * (q - alpha * second)).sum(-1)
    q = sac.critics.values(critic_params, obs_norm(obs), first).min(0)
    return q - alpha * second


def q_values(sac: SAC, critic_params: Any, obs_norm: ObsNormalizer, batch: Transitions) -> jnp.ndarray:
    """Every critic's Q(s, a) of the batch's actions: f32[num_critics, B]."""
    obs = obs_norm(batch.obs)
    if sac.spec.discrete:
        all_q = sac.critics.all_values(critic_params, obs)
        return jnp.take_along_axis(all_q, batch.actions.astype(jnp.int32)[None, :, None], axis=-1)[..., 0]
    return sac.critics.values(critic_params, obs, batch.actions)
