"""GAIL: generative adversarial imitation learning (Ho & Ermon, 2016), PPO generator.

Each iteration: roll out the policy, take `disc_steps` gradient steps on the
discriminator (binary cross-entropy, expert = 1, agent = 0), score the rollout with a
reward from the discriminator's logits, and update PPO on it. On JAX environments the
whole run is one compiled program; `num_seeds` vmaps independent runs.

Termination is handled by construction (`absorbing=True`, the default; DAC, Kostrikov et
al. 2019): a terminal transition leads to an absorbing state that the discriminator
scores like any other input, once per terminal transition with the weight of its whole
discounted future, and its value is folded into the terminal transition's reward (see
`imitax.nets.absorbing`). So ending an episode is worth what the discriminator says it
is: bad where the expert never ends episodes (CartPole's fall), good where it does
(MountainCar's goal), irrelevant where no episode ends early (Pendulum). One reward is
then right on all three kinds of task.

Reward choices (`reward`), with D = sigmoid(logit) the probability of "expert":
- "logit" (default): log D - log(1 - D), the AIRL/f-divergence form, unbiased in sign.
- "positive": -log(1 - D) = softplus(logit) >= 0, the original GAIL reward. Without
  absorbing states it carries a survival bonus (wrong where the expert ends episodes).
- "negative": log D <= 0, a per-step cost; without absorbing states it pays for ending
  episodes early.

Time-limit cuts are not terminations: PPO bootstraps from the true final observation
after a truncation and from nothing (but the absorbing value) after a terminal state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from imitax.data.replay import Reservoir
from imitax.data.rollout import Rollout
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError, require_non_negative, require_positive
from imitax.nets.absorbing import absorbing_value
from imitax.nets.discriminator import REWARD_KINDS, Discriminator
from imitax.nets.normalizer import ObsNormalizer
from imitax.nets.mlp import check_network
from imitax.rl.loop import ChunkCallback, LoopCheckpoint
from imitax.rl.ppo import PPO, PPOConfig, PPOState
from imitax.rl.train import OnPolicyLearner, run_on_policy

# The generator's PPO for every task, tuned on the tuning set only (CartPole-v1, Pendulum-v1;
# see the README's benchmark section). Observations and the discriminator's rewards are
# normalised because a user's task has observations and a learned reward of any scale; no
# entropy bonus, which drove Gaussian policies to act at random (Pendulum 0.17 with 0.01).
GENERATOR_PPO = PPOConfig(total_steps=1_000_000, num_epochs=10, num_minibatches=8, learning_rate=3e-4, ent_coef=0.0,
                          normalize_obs=True, normalize_rewards=True)

# Per-task budgets only (env steps, parallel envs): never losses, rewards or learning rates.
BUDGETS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"total_steps": 500_000},
    "MountainCar-v0": {"total_steps": 2_000_000},  # its PPO expert needs 2M too; GAIL 0.78 at 1M, 0.97 at 2M
}


def generator_for_env(env_id: str, **overrides: Any) -> PPOConfig:
    """The generator's PPO with the task's budget and `overrides` applied."""
    return dataclasses.replace(GENERATOR_PPO, **{**BUDGETS.get(env_id, {}), **overrides})


@dataclasses.dataclass(frozen=True)
class DiscriminatorOptions:
    """The discriminator's options, shared by GAIL (PPO generator) and DAC (SAC generator)."""

    reward: str = "logit"
    """reward from the discriminator logit: logit | positive | negative"""
    absorbing: bool = True
    """terminal transitions lead to a learned absorbing state (removes the termination bias of every reward)"""
    use_next_obs: bool = False
    """discriminate (s, a, s') instead of (s, a)"""
    disc_hidden_sizes: tuple[int, ...] = (64, 64)
    disc_activation: str = "tanh"
    # With the gradient penalty below. A discriminator that learns too slowly gives a blurred
    # reward (the tests' point mass, 5 seeds: 0.75 at 3e-4 without a penalty, 0.89 here; CartPole
    # and Pendulum unchanged within noise). Its reward transfers less well to a fresh agent
    # (CartPole 0.76 against 1.00): for a reward to keep, AIRL at 1e-4 (see airl.py).
    disc_learning_rate: float = 1e-3
    """the discriminator's Adam learning rate"""
    disc_steps: int = 4
    """discriminator gradient steps per iteration"""
    disc_batch_size: int = 256
    """agent samples (and as many expert samples) per discriminator step"""
    disc_grad_penalty: float = 1.0
    """weight of the penalty (|grad logit| - 1)^2 at expert/agent interpolates (WGAN-GP, as in DAC); 0: off"""
    disc_anneal_lr: bool = False
    """decay the discriminator's learning rate linearly to zero over the run"""

    def validate_discriminator(self, section: str) -> None:
        """ConfigError naming `section.field` for the first bad discriminator option."""
        if self.reward not in REWARD_KINDS:
            raise ConfigError(f"unknown {section.upper()} reward {self.reward!r}; expected one of {', '.join(REWARD_KINDS)}")
        require_positive(self, section, "disc_learning_rate", "disc_steps", "disc_batch_size")
        check_network(self.disc_hidden_sizes, self.disc_activation, hidden_name=f"{section}.disc_hidden_sizes",
                      activation_name=f"{section}.disc_activation")
        require_non_negative(self, section, "disc_grad_penalty")


@dataclasses.dataclass(frozen=True)
class GAILConfig(DiscriminatorOptions):
    """GAIL hyperparameters; `GAILConfig.for_env(id)` adds the task's budget."""

    ppo: PPOConfig = GENERATOR_PPO
    """the generator (its total_steps is the run's length)"""
    disc_replay_size: int = 0
    """agent transitions kept from the whole run (reservoir) for the discriminator; 0: current rollout only"""
    disc_replay_fraction: float = 0.5
    """share of each discriminator batch's agent samples drawn from the replay"""

    def validate(self) -> GAILConfig:
        self.ppo.validate()
        self.validate_discriminator("gail")
        check_replay(self, "gail")
        return self

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> GAILConfig:
        """The defaults with the task's budget; `ppo={...}` overrides generator fields."""
        ppo = generator_for_env(env_id, **overrides.pop("ppo", {}))
        return dataclasses.replace(cls(ppo=ppo), **overrides)


def check_replay(config: Any, section: str) -> None:
    """The discriminator replay options of a GAIL or AIRL config."""
    require_non_negative(config, section, "disc_replay_size")
    if not 0.0 <= config.disc_replay_fraction <= 1.0:
        raise ConfigError(f"{section}.disc_replay_fraction must be in [0, 1], got {config.disc_replay_fraction}")


@struct.dataclass
class GAILState:
    ppo: PPOState
    disc_params: dict[str, Any]
    disc_opt_state: optax.OptState
    expert: Transitions  # fields [num_expert, ...]; carried so vmapped runs share one program
    key: jax.Array
    replay: Reservoir | None = None  # past agent transitions for the discriminator (disc_replay_size > 0)
    reward_params: dict[str, Any] | None = None  # AIRL's separately learned reward to save (see airl.py)
    reward_opt_state: optax.OptState | None = None


@dataclasses.dataclass(frozen=True)
class GAIL:
    config: GAILConfig
    spec: EnvSpec

    @property
    def ppo(self) -> PPO:
        return PPO(self.config.ppo, self.spec)

    @property
    def discriminator(self) -> Discriminator:
        c = self.config
        return Discriminator(self.spec, tuple(c.disc_hidden_sizes), c.disc_activation, c.use_next_obs, c.absorbing,
                             self.gamma)

    def disc_optimizer(self, anneal: bool, learning_rate: float | None = None) -> optax.GradientTransformation:
        """Adam at `learning_rate` (default `disc_learning_rate`), decayed linearly to zero over
        the run when `anneal`."""
        rate = self.config.disc_learning_rate if learning_rate is None else learning_rate
        if not anneal:
            return optax.adam(rate)
        return optax.adam(optax.linear_schedule(rate, 0.0, self.num_disc_updates))

    @property
    def grad_penalty(self) -> float:
        """Weight of the generator's discriminator's gradient penalty."""
        return self.config.disc_grad_penalty

    @property
    def gamma(self) -> float:
        """The generator's discount (the absorbing loop's)."""
        return self.config.ppo.gamma

    @property
    def num_disc_updates(self) -> int:
        """Discriminator gradient steps over the whole run."""
        return self.config.ppo.num_updates * self.config.disc_steps

    def init(self, key: jax.Array, expert: Transitions) -> GAILState:
        ppo_key, disc_key, key = jax.random.split(key, 3)
        expert_norm = ObsNormalizer.identity(self.spec.obs_dim).update(expert.obs)
        disc_params = self.discriminator.init(disc_key, expert_norm)
        size = self.replay_size
        replay = Reservoir.allocate(expert, size) if size > 0 else None
        opt_state = self.disc_optimizer(self.config.disc_anneal_lr).init(disc_params["net"])
        return GAILState(self.ppo.init(ppo_key), disc_params, opt_state, expert, key, replay)

    def saved_reward_params(self, state: GAILState) -> dict[str, Any]:
        """The parameters of the reward the run saves (`learned_reward` takes them)."""
        return state.disc_params if state.reward_params is None else state.reward_params

    def saved_reward(self, state: GAILState) -> tuple[dict[str, Any], dict[str, Any]]:
        """(parameters, metadata) of the reward a run saves, for `imitax train rl --reward`."""
        return self.saved_reward_params(state), {"network": self.discriminator.config(), "reward": self.config.reward}

    @property
    def replay_size(self) -> int:
        """Capacity of the reservoir of past agent transitions (0: none)."""
        return self.config.disc_replay_size

    def act(self, state: GAILState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        return self.ppo.act(state.ppo, key, obs)

    def logits(self, net_params: Any, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """f32[...]: log D - log(1 - D) of transitions with leading shape `[...]`."""
        return self.discriminator.logits({"net": net_params, "obs_norm": state.disc_params["obs_norm"]}, transitions)

    def absorbing_logit(self, net_params: Any) -> jnp.ndarray:
        """f32[]: the discriminator's logit of the absorbing state."""
        return self.discriminator.absorbing_logit({"net": net_params})

    def reward(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """The reward the generator is trained on, f32[...]: the step's, plus after a
        terminal transition the absorbing state's discounted value."""
        return self.discriminator.reward(state.disc_params, transitions, self.config.reward)

    def disc_loss(self, net_params: Any, state: GAILState, expert: Transitions, agent: Transitions, key: jax.Array,
                  grad_penalty: float) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        """Cross-entropy of expert (label 1) against agent (label 0) logits, plus `grad_penalty`
        times the gradient penalty at expert/agent interpolates."""
        expert_logits = self.logits(net_params, state, expert)
        agent_logits = self.logits(net_params, state, agent)
        loss = optax.sigmoid_binary_cross_entropy(expert_logits, 1.0).mean() + \
            optax.sigmoid_binary_cross_entropy(agent_logits, 0.0).mean() + \
            self.absorbing_loss(net_params, expert, agent)
        if grad_penalty > 0:
            loss = loss + grad_penalty * self._grad_penalty(net_params, state.disc_params["obs_norm"], expert, agent, key)
        return loss, {
            "disc_loss": loss,
            "disc_expert_accuracy": (expert_logits > 0).mean(),
            "disc_agent_accuracy": (agent_logits < 0).mean(),
        }

    def absorbing_loss(self, net_params: Any, expert: Transitions, agent: Transitions) -> jnp.ndarray:
        """Cross-entropy of the absorbing state's logit (its actions are arbitrary). Each
        terminal transition is followed by the absorbing state's whole discounted
        occupancy, gamma / (1 - gamma) visits, the same weight its reward gets in the return."""
        c = self.config
        if not c.absorbing:
            return jnp.zeros(())
        logit = self.absorbing_logit(net_params)
        return absorbing_value(optax.sigmoid_binary_cross_entropy(logit, 1.0), expert.terminated.mean(), self.gamma) + \
            absorbing_value(optax.sigmoid_binary_cross_entropy(logit, 0.0), agent.terminated.mean(), self.gamma)

    def _grad_penalty(self, net_params: Any, obs_norm: ObsNormalizer, expert: Transitions, agent: Transitions, key: jax.Array) -> jnp.ndarray:
        disc = self.discriminator
        mix = jax.random.uniform(key, (expert.obs.shape[0], 1))
        inputs = mix * disc.features(obs_norm, expert) + (1 - mix) * disc.features(obs_norm, agent)
        grads = jax.vmap(jax.grad(lambda x: disc.net.apply(net_params, x)))(inputs)
        return ((jnp.linalg.norm(grads, axis=-1) - 1.0) ** 2).mean()

    def update_discriminator(self, state: GAILState, agent: Transitions) -> tuple[GAILState, dict[str, jnp.ndarray]]:
        """`disc_steps` steps on agent transitions `[num_agent, ...]` against the expert's."""
        key, disc_key = jax.random.split(state.key)
        replay = state.replay.add(jax.random.fold_in(disc_key, 1), agent) if state.replay is not None else None
        net_params, opt_state, metrics = self.fit_discriminator(
            state, state.disc_params["net"], state.disc_opt_state, self.disc_optimizer(self.config.disc_anneal_lr), agent,
            replay if self.config.disc_replay_size > 0 else None, disc_key, self.grad_penalty)
        disc_params = {**state.disc_params, "net": net_params}
        metrics = {**metrics, "disc_absorbing_logit": self.absorbing_logit(net_params)}
        return state.replace(disc_params=disc_params, disc_opt_state=opt_state, key=key, replay=replay), metrics

    def fit_discriminator(self, state: GAILState, net_params: Any, opt_state: optax.OptState,
                          optimizer: optax.GradientTransformation, agent: Transitions, replay: Reservoir | None,
                          key: jax.Array, grad_penalty: float) -> tuple[Any, optax.OptState, dict[str, jnp.ndarray]]:
        """`disc_steps` steps of `disc_loss` on `net_params`: agent batches from `agent`
        (`[num_agent, ...]`), a `disc_replay_fraction` of them from `replay` when given."""
        c = self.config
        num_agent, num_expert = agent.obs.shape[0], state.expert.obs.shape[0]
        num_replayed = round(c.disc_replay_fraction * c.disc_batch_size) if replay is not None else 0

        def step(carry: tuple[Any, Any, jax.Array], _: None) -> tuple[tuple[Any, Any, jax.Array], dict[str, jnp.ndarray]]:
            net_params, opt_state, key = carry
            key, agent_key, expert_key, gp_key = jax.random.split(key, 4)
            rows = jax.random.randint(agent_key, (c.disc_batch_size - num_replayed,), 0, num_agent)
            agent_batch = jax.tree.map(lambda x: x[rows], agent)
            if num_replayed:
                agent_batch = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), agent_batch,
                                           replay.sample(jax.random.fold_in(agent_key, 1), num_replayed))
            expert_batch = jax.tree.map(lambda x: x[jax.random.randint(expert_key, (c.disc_batch_size,), 0, num_expert)], state.expert)
            grads, metrics = jax.grad(self.disc_loss, has_aux=True)(net_params, state, expert_batch, agent_batch, gp_key,
                                                            grad_penalty)
            updates, opt_state = optimizer.update(grads, opt_state, net_params)
            return (optax.apply_updates(net_params, updates), opt_state, key), metrics

        (net_params, opt_state, _), metrics = jax.lax.scan(step, (net_params, opt_state, key), None, length=c.disc_steps)
        return net_params, opt_state, jax.tree.map(jnp.mean, metrics)

    def update(self, state: GAILState, rollout: Rollout) -> tuple[GAILState, dict[str, jnp.ndarray]]:
        """Discriminator steps, then a PPO update on the discriminator's reward."""
        agent = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), rollout.transitions)
        state, disc_metrics = self.update_discriminator(state, agent)
        rewards = self.reward(state, rollout.transitions)
        ppo_state, ppo_metrics = self.ppo.update(state.ppo, rollout, rewards)
        return state.replace(ppo=ppo_state), {**ppo_metrics, **disc_metrics}


@dataclasses.dataclass
class AdversarialResult:
    """algo: the GAIL or AIRL object; state: its state with a leading [num_seeds] axis;
    history: {metric: [num_seeds, iterations]}."""

    algo: GAIL
    state: GAILState
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float

    @property
    def env_steps(self) -> int:
        """Per seed."""
        return self.algo.config.ppo.num_updates * self.algo.config.ppo.batch_size


def train_adversarial(
    algo: GAIL,
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> AdversarialResult:
    """The compiled loop shared by GAIL and AIRL."""
    expert = jax.tree.map(jnp.asarray, expert)
    ppo = algo.config.ppo
    learner = OnPolicyLearner(
        init=lambda key: algo.init(key, expert), act=algo.act, update=algo.update,
        num_envs=ppo.num_envs, rollout_steps=ppo.rollout_steps,
    )
    result = run_on_policy(env, learner, ppo.num_updates, seed, num_seeds, on_chunk, checkpoint)
    return AdversarialResult(algo, result.carry[0], result.history, result.compile_s, result.run_s)


def train_gail(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: GAILConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> AdversarialResult:
    """Imitate the expert transitions `expert` (fields `[num_transitions, ...]`)."""
    config.validate()
    return train_adversarial(GAIL(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint)
