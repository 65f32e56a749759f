"""What every discriminator-based method shares (GAIL, AIRL, DAC): the generator options, the
discriminator's training (loss, absorbing state, gradient penalty, replay) and the loop.

A method is a discriminator plus a generator (`imitax.rl.generator`: PPO or SAC). Each
iteration the generator's loop collects experience; the discriminator takes `disc_steps`
gradient steps on agent transitions (PPO: the rollout; SAC: draws from the whole run's
replay) against expert transitions; then the generator improves on the discriminator's
reward. Subclasses say what the discriminator is: its network, its logits, the reward the
generator gets and its gradient penalty (`gail.GAIL`, `airl.AIRL`). DAC is GAIL with the SAC
generator.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from imitax.algos.off_policy_imitation import IMITATION_SAC, SAC_RATE_FIELDS, sac_for_env, with_sac_rate
from imitax.data.replay import Reservoir
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError, require_non_negative, require_positive
from imitax.nets.absorbing import absorbing_value
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl import rates
from imitax.rl.generator import GENERATORS, PPOGenerator, SACGenerator, make_generator
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, SweepPoints
from imitax.rl.ppo import PPO, PPOConfig
from imitax.rl.sac import SACConfig

# The PPO generator for every task, tuned on the tuning set only (CartPole-v1, Pendulum-v1;
# see the README's benchmark section). Observations and the discriminator's rewards are
# normalised because a user's task has observations and a learned reward of any scale; no
# entropy bonus, which drove Gaussian policies to act at random (Pendulum 0.17 with 0.01).
# Learning rate 3e-4, fixed schedule (linear decay). Two alternatives were measured held out
# and not kept (README, "The policy's learning rate"): 6e-4 (2026-11-27: InvertedDoublePendulum
# GAIL 0.99 -> 0.51) and a rate adapted to a KL target of 0.005 (`target_kl`, 2026-11-27:
# tuning probes all >= 0.99 and IDP AIRL 0.80 -> 0.93, but AIRL on Reacher 0.95 -> 0.78, the
# point mass 0.83 -> 0.77 and MountainCar 0.82 -> 0.76, GAIL on the point mass 0.89 -> 0.79;
# rows `*_kl_target_0.005` in heldout.json, probes in generator_kl_target.jsonl).
GENERATOR_PPO = PPOConfig(total_steps=1_000_000, num_epochs=10, num_minibatches=8, learning_rate=3e-4, ent_coef=0.0,
                          normalize_obs=True, normalize_rewards=True)

# Per-task budgets of the PPO generator only (env steps, parallel envs): never losses, rewards
# or learning rates. The SAC generator's are `off_policy_imitation.BUDGETS`.
BUDGETS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"total_steps": 500_000},
    "MountainCar-v0": {"total_steps": 2_000_000},  # its PPO expert needs 2M too; GAIL 0.78 at 1M, 0.97 at 2M
}

# Discriminator steps per iteration when the config leaves it unset: a PPO iteration is a
# rollout of thousands of env steps, a SAC iteration one env step per env (DAC's 1).
DEFAULT_DISC_STEPS = {"ppo": 4, "sac": 1}
DEFAULT_GRAD_PENALTY = {"ppo": 0.1, "sac": 1.0}  # GAIL's and DAC's; AIRL resolves its own
DEFAULT_BC_WEIGHT = {"ppo": 0.1, "sac": 0.0}  # see GeneratorOptions.bc_weight


def generator_for_env(env_id: str, **overrides: Any) -> PPOConfig:
    """The PPO generator with the task's budget and `overrides` applied."""
    return dataclasses.replace(GENERATOR_PPO, **{**BUDGETS.get(env_id, {}), **overrides})


@dataclasses.dataclass(frozen=True)
class GeneratorOptions:
    """Which RL learner the discriminator's reward trains, and each learner's settings."""

    generator: str = "ppo"
    """ppo (on-policy, learns from each rollout) | sac (off-policy, learns from a replay of the whole run: DAC)"""
    ppo: PPOConfig = GENERATOR_PPO
    """the PPO generator (its total_steps is the run's length)"""
    sac: SACConfig = IMITATION_SAC
    """the SAC generator (its total_steps is the run's length)"""
    # 0.1 since 2026-11-27, chosen on the tuning set (5 seeds; 1 demo / 10 demos): Pendulum GAIL
    # 0.948 / 1.000 against 0.954 / 0.981 without it, AIRL 0.960 from 1 demo against 0.969, CartPole 1.000;
    # weight 1 tied there (0.950, 1.003, AIRL 0.943). Held out it lifted AIRL on the point mass from
    # 0.831 to 0.929 (1: 0.947). Trained on the whole Gaussian (log-std too) it ended exploration:
    # Pendulum from 1 demo at weight 1, GAIL 0.641, AIRL 0.673 (0.621 and 0.559 annealed to zero).
    bc_weight: float | None = None
    """weight of a behavioural-cloning term in the generator's loss: -log pi(a|s) of a minibatch of expert
    transitions per policy minibatch, through the mean on Box actions (the log-std, exploration, stays the
    learner's); None: 0.1 with the PPO generator, 0 with SAC (where it is not available)"""

    def validate_generator(self, section: str) -> None:
        if self.generator not in GENERATORS:
            raise ConfigError(f"unknown {section}.generator {self.generator!r}; expected one of {', '.join(GENERATORS)}")
        (self.ppo if self.generator == "ppo" else self.sac).validate()
        if self.bc_weight is not None:
            require_non_negative(self, section, "bc_weight")
        if self.generator == "sac" and self.bc_weight:
            raise ConfigError(f"{section}.bc_weight is {self.bc_weight}; expected 0 with the SAC generator (the term is PPO's)")

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> Any:
        """The defaults with the task's budgets; `ppo={...}` and `sac={...}` override generator fields."""
        ppo = generator_for_env(env_id, **overrides.pop("ppo", {}))
        sac = sac_for_env(env_id, **overrides.pop("sac", {}))
        return dataclasses.replace(cls(ppo=ppo, sac=sac), **overrides)


def check_disc_steps(config: Any, section: str) -> None:
    """`disc_steps` is unset (None) or positive."""
    if config.disc_steps is not None:
        require_positive(config, section, "disc_steps")


@struct.dataclass
class AdversarialState:
    generator: Any  # PPOState or SACState
    disc_params: dict[str, Any]
    disc_opt_state: optax.OptState
    expert: Transitions  # fields [num_expert, ...]; carried so vmapped runs share one program
    key: jax.Array
    replay: Reservoir | None = None  # past agent transitions for the discriminator (disc_replay_size > 0)
    reward_params: dict[str, Any] | None = None  # AIRL's separately learned reward to save (see airl.py)
    reward_opt_state: optax.OptState | None = None

    @property
    def ppo(self) -> Any:
        """The PPO generator's state (a run with the PPO generator)."""
        return self.generator

    @property
    def sac(self) -> Any:
        """The SAC generator's state (a run with the SAC generator)."""
        return self.generator


@dataclasses.dataclass(frozen=True)
class Adversarial:
    """The discriminator's training and the loop; subclasses define `discriminator`, `logits`,
    `absorbing_logit`, `reward` and `_grad_penalty`."""

    config: Any
    spec: EnvSpec

    @property
    def generator(self) -> PPOGenerator | SACGenerator:
        c = self.config
        return make_generator(c.generator, c.ppo, c.sac, self.spec)

    @property
    def ppo(self) -> PPO:
        """The PPO learner (of a run with the PPO generator)."""
        return PPO(self.config.ppo, self.spec)

    @property
    def policy(self) -> Any:
        return self.generator.policy

    @property
    def gamma(self) -> float:
        """The generator's discount (the absorbing loop's)."""
        return self.generator.gamma

    @property
    def disc_steps(self) -> int:
        """Discriminator gradient steps per iteration, None resolved by the generator."""
        steps = self.config.disc_steps
        return DEFAULT_DISC_STEPS[self.config.generator] if steps is None else steps

    @property
    def num_disc_updates(self) -> int:
        """Discriminator gradient steps over the whole run."""
        return self.generator.num_iterations * self.disc_steps

    @property
    def grad_penalty(self) -> float:
        """Weight of the generator's discriminator's gradient penalty, None resolved by the generator."""
        weight = self.config.disc_grad_penalty
        return DEFAULT_GRAD_PENALTY[self.config.generator] if weight is None else weight

    @property
    def anneals_disc_lr(self) -> bool:
        """Whether the discriminator's learning rate decays to zero over the run (`disc_anneal_lr`,
        None resolved: with the generator's own rate). A constant rate against a generator whose rate
        decays lets the discriminator pull ahead at the end of the run: CartPole from 10 demos, 5
        seeds, GAIL 0.875 with one seed falling from 500 to ~320 in the last fifth, 1.000 annealed."""
        anneal = self.config.disc_anneal_lr
        if anneal is not None:
            return anneal
        return self.config.generator == "ppo" and self.config.ppo.decays_learning_rate

    @property
    def replay_size(self) -> int:
        """Capacity of the reservoir of past agent transitions (0: none)."""
        return self.config.disc_replay_size

    def disc_optimizer(self, anneal: bool, learning_rate: float | None = None) -> optax.GradientTransformation:
        """Adam at `learning_rate` (default `disc_learning_rate`, held in the state: see
        `imitax.rl.rates`), decayed linearly to zero over the run when `anneal`."""
        rate = self.config.disc_learning_rate if learning_rate is None else learning_rate
        return rates.adam(rate, self.num_disc_updates if anneal else None)

    @property
    def traced_fields(self) -> tuple[str, ...]:
        """Config fields (dotted paths) whose values live in the state, so that one compiled
        program runs any values of them (a sweep vmaps over these; see `with_hyperparams`)."""
        generator = ("ppo.learning_rate",) if self.config.generator == "ppo" else SAC_RATE_FIELDS
        return ("disc_learning_rate", *generator)

    def with_hyperparams(self, state: AdversarialState, values: dict[str, Any]) -> AdversarialState:
        """`state` with the `traced_fields` in `values` ({field: f32[] or float}) set."""
        for field, value in values.items():
            if field == "disc_learning_rate":
                state = state.replace(disc_opt_state=rates.with_rate(state.disc_opt_state, value))
            elif field == "ppo.learning_rate" and "ppo.learning_rate" in self.traced_fields:
                state = state.replace(generator=self.ppo.with_learning_rate(state.generator, value))
            elif field in SAC_RATE_FIELDS and field in self.traced_fields:
                state = state.replace(generator=with_sac_rate(self.generator.learner, state.generator, field, value))
            else:
                raise ConfigError(f"{field} is not a traced field of this config; expected one of "
                                  f"{', '.join(self.traced_fields) or '(none)'}")
        return state

    def init(self, key: jax.Array, expert: Transitions) -> AdversarialState:
        generator_key, disc_key, key = jax.random.split(key, 3)
        expert_norm = ObsNormalizer.identity(self.spec.obs_dim).update(expert.obs)
        disc_params = self.discriminator.init(disc_key, expert_norm)
        size = self.replay_size
        replay = Reservoir.allocate(expert, size) if size > 0 else None
        opt_state = self.disc_optimizer(self.anneals_disc_lr).init(disc_params["net"])
        return AdversarialState(self.generator.init(generator_key), disc_params, opt_state, expert, key, replay)

    def act(self, state: AdversarialState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        return self.generator.act(state.generator, key, obs)

    def policy_params(self, state: AdversarialState) -> dict[str, Any]:
        return self.generator.policy_params(state.generator)

    # ------------------------------------------------------------ the discriminator's parts

    @property
    def discriminator(self) -> Any:
        raise NotImplementedError

    def logits(self, net_params: Any, state: AdversarialState, transitions: Transitions) -> jnp.ndarray:
        """f32[...]: log D - log(1 - D) of transitions with leading shape `[...]`."""
        raise NotImplementedError

    def absorbing_logit(self, net_params: Any) -> jnp.ndarray:
        """f32[]: the discriminator's logit of the absorbing state."""
        raise NotImplementedError

    def reward(self, state: AdversarialState, transitions: Transitions) -> jnp.ndarray:
        """The reward the generator is trained on, f32[...]."""
        raise NotImplementedError

    def _grad_penalty(self, net_params: Any, obs_norm: ObsNormalizer, expert: Transitions, agent: Transitions,
                      key: jax.Array) -> jnp.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------ training

    def disc_loss(self, net_params: Any, state: AdversarialState, expert: Transitions, agent: Transitions, key: jax.Array,
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
        if not self.config.absorbing:
            return jnp.zeros(())
        logit = self.absorbing_logit(net_params)
        return absorbing_value(optax.sigmoid_binary_cross_entropy(logit, 1.0), expert.terminated.mean(), self.gamma) + \
            absorbing_value(optax.sigmoid_binary_cross_entropy(logit, 0.0), agent.terminated.mean(), self.gamma)

    def update_discriminator(self, state: AdversarialState, agent: Transitions) -> tuple[AdversarialState, dict[str, jnp.ndarray]]:
        """`disc_steps` steps on agent transitions `[num_agent, ...]` against the expert's."""
        key, disc_key = jax.random.split(state.key)
        replay = state.replay.add(jax.random.fold_in(disc_key, 1), agent) if state.replay is not None else None
        net_params, opt_state, metrics = self.fit_discriminator(
            state, state.disc_params["net"], state.disc_opt_state, self.disc_optimizer(self.anneals_disc_lr), agent,
            replay if self.config.disc_replay_size > 0 else None, disc_key, self.grad_penalty)
        disc_params = {**state.disc_params, "net": net_params}
        metrics = {**metrics, "disc_absorbing_logit": self.absorbing_logit(net_params)}
        return state.replace(disc_params=disc_params, disc_opt_state=opt_state, key=key, replay=replay), metrics

    def fit_discriminator(self, state: AdversarialState, net_params: Any, opt_state: optax.OptState,
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

        (net_params, opt_state, _), metrics = jax.lax.scan(step, (net_params, opt_state, key), None, length=self.disc_steps)
        return net_params, opt_state, jax.tree.map(jnp.mean, metrics)

    @property
    def resolved_config(self) -> Any:
        """The config with its run-time defaults (None) resolved for this generator and env: what
        a run records in config.json, so that a later change of a default cannot change a resume."""
        return dataclasses.replace(self.config, disc_steps=self.disc_steps, disc_grad_penalty=self.grad_penalty,
                                   bc_weight=self.bc_weight, disc_anneal_lr=self.anneals_disc_lr)

    @property
    def bc_weight(self) -> float:
        """Weight of the generator's behavioural-cloning term, None resolved by the generator."""
        weight = self.config.bc_weight
        return DEFAULT_BC_WEIGHT[self.config.generator] if weight is None else weight

    def cloning(self, state: AdversarialState) -> tuple[Transitions, float] | tuple[()]:
        """(demos, weight) of the generator's behavioural-cloning term; () when off."""
        return (state.expert, self.bc_weight) if self.bc_weight > 0 else ()

    def update(self, state: AdversarialState, data: Any, key: jax.Array | None = None) -> tuple[AdversarialState, dict[str, jnp.ndarray]]:
        """Discriminator steps on the iteration's agent transitions, then the generator's
        update on the discriminator's reward. `data`: the generator loop's (a rollout or the
        replay); `key`: the loop's (None for the on-policy loop, which draws from `state.key`)."""
        sample_key, improve_key = (None, None) if key is None else jax.random.split(key)
        agent = self.generator.agent_transitions(data, sample_key, self.disc_steps * self.config.disc_batch_size)
        state, disc_metrics = self.update_discriminator(state, agent)
        generator_state, generator_metrics = self.generator.improve(state.generator, data, partial(self.reward, state),
                                                                    improve_key, *self.cloning(state))
        return state.replace(generator=generator_state), {**generator_metrics, **disc_metrics}


@dataclasses.dataclass
class AdversarialResult:
    """algo: the GAIL or AIRL object; state: its state with a leading [num_seeds] axis;
    history: {metric: [num_seeds, iterations]}."""

    algo: Adversarial
    state: AdversarialState
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float

    @property
    def env_steps(self) -> int:
        """Per seed."""
        generator = self.algo.generator
        return generator.num_iterations * generator.steps_per_iteration


def train_adversarial(
    algo: Adversarial,
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> AdversarialResult:
    """The loop of every adversarial method: the generator's (compiled on JAX envs, vmapped over seeds).

    `hyperparams` ({traced field: f[num_points]}, see `Adversarial.traced_fields`) makes it a
    sweep: num_points x num_seeds runs in one program, the state's leading axis point-major
    (run `point * num_seeds + s` is seed `s` of `point`)."""
    expert = jax.device_put(expert)  # jnp.asarray would compile a program per field shape
    points = SweepPoints.of(hyperparams, algo.with_hyperparams)
    result = algo.generator.run(env, lambda key: algo.init(key, expert), algo.act, algo.update, seed, num_seeds,
                                on_chunk, checkpoint, points)
    return AdversarialResult(algo, result.carry[0], result.history, result.compile_s, result.run_s)
