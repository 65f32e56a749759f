"""AIRL: adversarial inverse reinforcement learning (Fu, Luo & Levine, 2018), PPO or SAC generator.

The discriminator is D = exp(f) / (exp(f) + pi(a|s)), so its logit is
f(s, a, s') - log pi(a|s) with f = g(s[, a]) + gamma * h(s') - h(s) (see
`imitax.nets.airl_reward`). The generator is trained on the logit log D - log(1 - D) =
f - log pi (`reward="logit"`: the entropy-regularised objective of the paper), on f
alone (`"shaped"`) or on -log(1 - D) = softplus(f - log pi) (`"positive"`). The default,
`"auto"`, is "logit" for Discrete actions and "shaped" for Box actions: with the shared
generator (no entropy bonus), measured on the tuning set (3 seeds, 10 demos), "shaped"
scored 0.415 on CartPole, where the categorical policy turns deterministic and log pi alone
then tells the expert's actions apart, so f learns little; "logit" scored 1.000. On
Pendulum "logit" scored 0.941 and its saved reward trained a fresh agent to 0.40, where
"shaped" scored 0.997: the -log pi term pays a Gaussian policy for spreading its actions.

Episodes that end (CartPole's fall, MountainCar's goal) lead to a learned absorbing
state (`absorbing=True`, DAC-style): the discriminator learns whether ending an episode
is expert-like, and the rewards fold the absorbing state's value into the terminal
transition. Without it, a reward that is negative on the agent's states teaches the
agent (and any fresh agent trained on the saved reward) to end episodes early.
The disentangled reward g (with g_abs) is the learned reward to keep: it is saved with
the run and, with a state-only g, transfers to changed dynamics.

The saved reward is learned by its own network (`separate_reward`, on by default): the
same g + gamma * h' - h form and loss, the same batches, but trained for reuse rather than
for driving the generator. A fresh agent trained on g starts where AIRL's generator
started, far from the expert, so this network also learns from a reservoir of agent
transitions from the whole run (`reward_replay_size`); and once the policy matches the
expert, g is barely constrained and drifts with every step, so its learning rate decays
to zero over the run. Both helped the saved reward and hurt the generator when applied
together to its discriminator (Pendulum, 5 seeds: policy 0.657 against 0.981), hence two
networks. The generator's discriminator can use the replay (`disc_replay_size`); its rate decays
with the PPO generator's by default since 2026-11-28 (`disc_anneal_lr`; alone it cured CartPole's
collapsed seed and left Pendulum at 0.999; held-out figures in the README). The two
also differ in what g sees: the saved reward g(s) (`state_only`, what transfers), the
generator's discriminator g(s, a) (`disc_state_only`), since f = g(s) + gamma h(s') - h(s)
tells actions apart only through s', which some tasks barely change (MountainCar-v0).
Train fresh agents with `PPOConfig(normalize_rewards=True)`, as `imitax train rl` does:
g's scale, and the absorbing fold's, is arbitrary.

Everything else (the loop, discriminator steps, the generator, seeds) is GAIL's
(`imitax.algos.adversarial`). With the SAC generator (`generator="sac"`) the discriminator's
agent samples come from the replay of the whole run and log pi is the current policy's, so
the off-policy discriminator scores old actions by the policy that now acts; on Box actions
it is the density of the pre-squash action (see `SACGenerator.log_prob`), floored at -5 per
action dimension (`log_policy_floor`): old and expert actions far outside the current policy
(log pi ~ -100) otherwise swamp f, and the discriminator drives f down without bound to fit them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from imitax.algos.adversarial import GeneratorOptions, check_disc_steps
from imitax.algos.gail import GAIL, AdversarialResult, GAILState, check_replay, hide_episode_context, train_adversarial
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError, require_finite, require_non_negative, require_positive
from imitax.nets.airl_reward import AIRLRewardNet
from imitax.nets.discriminator import check_ignore_obs
from imitax.nets.mlp import check_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl import rates
from imitax.rl.loop import ChunkCallback, LoopCheckpoint

AIRL_REWARDS = ("auto", "logit", "positive", "shaped")

# `AIRLConfig.log_policy_floor` with the SAC generator on Box actions.
DEFAULT_SAC_LOG_POLICY_FLOOR = -5.0

# The discriminator learning rate for a reward to keep: slower than the default, which serves
# the policy (see `AIRLConfig.disc_learning_rate`).
REWARD_KEEPING_DISC_LEARNING_RATE = 1e-4


@dataclasses.dataclass(frozen=True)
class AIRLConfig(GeneratorOptions):
    """AIRL hyperparameters; `AIRLConfig.for_env(id)` adds the task's budgets."""

    reward: str = "auto"
    """generator reward: auto (SAC generator: shaped; PPO: logit for Discrete actions, shaped for Box) |
    logit (f - log pi) | shaped (f) | positive (-log(1 - D) = softplus(f - log pi))"""
    state_only: bool = True
    """the saved reward g depends on the state only (what makes it transfer to changed dynamics)"""
    # g(s, a) for the generator: with g(s) alone f sees the action only through s', which on
    # MountainCar-v0 (a push moves the car by 1e-3) barely differs between actions. 10 demos, 5
    # seeds: MountainCar-v0 0.972 against 0.819 with g(s), InvertedDoublePendulum 0.957 against
    # 0.762; Pendulum 0.989 against 0.990 (README). The saved reward keeps `state_only`.
    disc_state_only: bool | None = None
    """the generator's discriminator's g depends on the state only; None: no when the saved reward has its own
    network (`separate_reward`), else `state_only` (that discriminator is then the saved reward)"""
    disc_ignore_obs: tuple[int, ...] | None = None
    """observation features g and h do not see (the policy still does); None: as GAIL's, the features the
    env draws anew each episode that stay fixed within every one of fewer than 5 demonstrations"""
    disc_hidden_sizes: tuple[int, ...] = (64, 64)
    disc_activation: str = "tanh"
    # GAIL's rate. At 1e-4 the generator failed on every held-out Box task (5 seeds: the tests'
    # point mass -0.32, InvertedDoublePendulum 0.01, Reacher -0.92; at 1e-3: 0.76, 0.65, 0.84).
    # The price is the saved reward's transfer, cause not established (CartPole, fresh agents
    # on g, 5 seeds: 1.000 at 1e-4, 0.579 at 3e-4, 0.176 at 1e-3; drawing all the saved
    # reward's agent samples from the whole run's replay: 0.321). For a reward to keep, 1e-4.
    disc_learning_rate: float = 1e-3
    """the generator's discriminator; 1e-4 for a reward that transfers (see the README)"""
    disc_steps: int | None = None
    """discriminator gradient steps per iteration; None: 4 per PPO rollout, 1 per SAC iteration"""
    disc_batch_size: int = 256
    """agent samples (and as many expert samples) per discriminator step"""
    absorbing: bool = True
    """terminal transitions lead to a learned absorbing state (removes the termination bias)"""
    separate_reward: bool = True
    """learn the reward to save with its own network (replay, annealed rate; see the module docstring);
    False: save the generator's discriminator's g"""
    reward_learning_rate: float = 1e-4
    """initial learning rate of the saved reward's network (`separate_reward`), decayed to zero"""
    reward_replay_size: int = 100_000
    """agent transitions from the whole run (reservoir) that the saved reward also learns from"""
    disc_anneal_lr: bool | None = None
    """decay the generator's discriminator's learning rate linearly to zero over the run; None: as the
    generator's rate does (PPO's, unless ppo.anneal_lr is off or ppo.target_kl set; SAC's is constant)"""
    disc_replay_size: int = 0
    """agent transitions from the whole run (reservoir) for the generator's discriminator; 0: current rollout only"""
    disc_replay_fraction: float = 0.5
    """share of each discriminator batch's agent samples drawn from the replay"""
    # Measured with 10 demos, 5 seeds, penalty 1 against none: on Box actions (reward "shaped")
    # the point mass 0.826 against 0.758, InvertedDoublePendulum 0.802 against 0.649 (no seed
    # collapsed), Reacher 0.949 against 0.839, Pendulum 0.990 against 1.002, MountainCarContinuous
    # 1.000 against 1.002; on MountainCar-v0 (Discrete, reward "logit") 0.693 against 0.819.
    disc_grad_penalty: float | None = None
    """weight of (|grad f| - 1)^2 at expert/agent interpolates, on the generator's discriminator only
    (the saved reward's network gets none); None: 1 when the generator's reward is "shaped" (f alone,
    Box actions by default), else 0"""

    # With the SAC generator the discriminator scores replayed actions, and the expert's, by the
    # current policy. On InvertedPendulum-v5 (expert actions near the bounds, policy sigma ~0.3)
    # their log pi reached ~ -100, the discriminator drove f down without bound to fit them
    # (loss 22-173, per-step reward -78..-241) and training episodes never passed 120 steps; with
    # log pi floored at -5 the loss stayed at 0.7 and they reached 1,000 by 25k steps (README).
    log_policy_floor: float | None = None
    """lower bound on the log pi(a|s) in the discriminator's logit f - log pi, per action dimension (Box), so
    that actions the current policy would almost never take do not swamp f; None: -5 with the SAC generator on
    Box actions, else none"""

    def validate(self) -> AIRLConfig:
        self.validate_generator("airl")
        if self.reward not in AIRL_REWARDS:
            raise ConfigError(f"unknown AIRL reward {self.reward!r}; expected one of {', '.join(AIRL_REWARDS)}")
        require_positive(self, "airl", "disc_learning_rate", "reward_learning_rate", "disc_batch_size")
        check_disc_steps(self, "airl")
        check_network(self.disc_hidden_sizes, self.disc_activation, hidden_name="airl.disc_hidden_sizes",
                      activation_name="airl.disc_activation")
        check_replay(self, "airl")
        if self.disc_ignore_obs is not None:
            check_ignore_obs(self.disc_ignore_obs, None, "airl.disc_ignore_obs")
        require_non_negative(self, "airl", "reward_replay_size")
        if self.disc_grad_penalty is not None:
            require_non_negative(self, "airl", "disc_grad_penalty")
        if self.log_policy_floor is not None:
            require_finite(self, "airl", "log_policy_floor")
        return self

    def resolved(self, spec: EnvSpec) -> AIRLConfig:
        """This config with its run-time defaults (None, "auto") resolved for `spec`."""
        return AIRL(self, spec).resolved_config


@dataclasses.dataclass(frozen=True)
class AIRL(GAIL):
    config: AIRLConfig  # type: ignore[assignment]

    @property
    def resolved_config(self) -> AIRLConfig:
        # GAIL's resolves the reward form through `generator_reward` (AIRL's below)
        return dataclasses.replace(super().resolved_config, disc_state_only=self.disc_state_only,
                                   log_policy_floor=self.log_policy_floor)

    @property
    def log_policy_floor(self) -> float | None:
        """`log_policy_floor` resolved: -5 for the SAC generator on Box actions, else the config's."""
        c = self.config
        if c.log_policy_floor is not None or c.generator != "sac" or self.spec.discrete:
            return c.log_policy_floor
        return DEFAULT_SAC_LOG_POLICY_FLOOR

    @property
    def disc_state_only(self) -> bool:
        """Whether the generator's discriminator's g sees the state only (`disc_state_only` resolved)."""
        c = self.config
        if c.disc_state_only is not None:
            return c.disc_state_only
        return False if c.separate_reward else c.state_only

    @property
    def discriminator(self) -> AIRLRewardNet:  # type: ignore[override]
        """The generator's discriminator's g and h."""
        c = self.config
        return AIRLRewardNet(self.spec, tuple(c.disc_hidden_sizes), c.disc_activation, self.disc_state_only, self.gamma,
                             c.absorbing, self.hidden_features)

    @property
    def saved_reward_net(self) -> AIRLRewardNet:
        """The network of the reward the run saves: the separate one (`state_only`), or the discriminator."""
        return self._saved_reward_learner.discriminator

    @property
    def _saved_reward_learner(self) -> AIRL:
        """This AIRL with the saved reward's network as its discriminator (what trains `reward_params`)."""
        c = self.config
        if not c.separate_reward or self.disc_state_only == c.state_only:
            return self
        return AIRL(dataclasses.replace(c, disc_state_only=c.state_only), self.spec)

    @property
    def replay_size(self) -> int:
        c = self.config
        return max(c.disc_replay_size, c.reward_replay_size if c.separate_reward else 0)

    @property
    def generator_reward(self) -> str:
        """The reward form the generator is trained on, "auto" resolved by the generator and the
        action space: "shaped" for SAC, whose own entropy bonus already supplies AIRL's -log pi
        term (max E[f - log pi] is SAC on f at temperature 1; "logit" would count it twice);
        with PPO (no entropy bonus) "logit" for Discrete actions, "shaped" for Box."""
        if self.config.reward != "auto":
            return self.config.reward
        if self.config.generator == "sac":
            return "shaped"
        return "logit" if self.spec.discrete else "shaped"

    @property
    def grad_penalty(self) -> float:
        """`disc_grad_penalty`, None resolved by the generator's reward."""
        if self.config.disc_grad_penalty is not None:
            return self.config.disc_grad_penalty
        return 1.0 if self.generator_reward == "shaped" else 0.0

    @property
    def reward_optimizer(self) -> optax.GradientTransformation:
        """The saved reward's Adam: `reward_learning_rate`, decayed to zero over the run."""
        return self.disc_optimizer(anneal=True, learning_rate=self.config.reward_learning_rate)

    @property
    def traced_fields(self) -> tuple[str, ...]:
        generator = super().traced_fields
        return generator + (("reward_learning_rate",) if generator and self.config.separate_reward else ())

    def with_hyperparams(self, state: GAILState, values: dict[str, Any]) -> GAILState:
        values = dict(values)
        if "reward_learning_rate" in values and "reward_learning_rate" in self.traced_fields:
            rate = values.pop("reward_learning_rate")
            state = state.replace(reward_opt_state=rates.with_rate(state.reward_opt_state, rate))
        return super().with_hyperparams(state, values)

    def init(self, key: jax.Array, expert: Transitions) -> GAILState:
        state = super().init(key, expert)
        if not self.config.separate_reward:
            return state
        reward_params = self.saved_reward_net.init(jax.random.fold_in(key, 1), state.disc_params["obs_norm"])
        return state.replace(reward_params=reward_params,
                             reward_opt_state=self.reward_optimizer.init(reward_params["net"]))

    def log_policy(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """log pi(a|s) under the current policy, held fixed for the discriminator, f32[n]; no
        lower than `log_policy_floor`."""
        log_pi = self.generator.log_prob(state.generator, transitions)
        floor = self.log_policy_floor
        if floor is None:
            return log_pi
        # log pi sums over the action's dimensions, so the floor does too: per dimension it stays
        # ~3 policy sigmas out at sigma 0.3, rather than clipping every action of an 8-D policy
        return jnp.maximum(log_pi, floor * (1 if self.spec.discrete else self.spec.action_dim))

    def logits(self, net_params: Any, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        params = {"net": net_params, "obs_norm": state.disc_params["obs_norm"]}
        return self.discriminator.shaped_reward(params, transitions) - self.log_policy(state, transitions)

    def absorbing_logit(self, net_params: Any) -> jnp.ndarray:
        """g_abs: the absorbing state's logit has no log pi term (its actions are arbitrary)."""
        return self.discriminator.absorbing_reward({"net": net_params, "obs_norm": None})

    def reward(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """The generator's reward. Signed rewards (shaped, logit) get the absorbing state's
        value after terminal transitions. The positive reward does not: it pays for every
        step survived, so it assumes ending an episode is never expert-like (absorbing
        reward 0, its lower bound); with the absorbing state's learned softplus(g_abs) > 0
        folded in, early on it paid the agent to end episodes."""
        kind = self.generator_reward
        if kind == "positive":
            return jax.nn.softplus(self.logits(state.disc_params["net"], state, transitions))
        net = self.discriminator
        step = net.shaped_reward(state.disc_params, transitions) if kind == "shaped" else \
            self.logits(state.disc_params["net"], state, transitions)
        return step + net.absorbing_value(net.absorbing_reward(state.disc_params), transitions.terminated)

    def _grad_penalty(self, net_params: Any, obs_norm: ObsNormalizer, expert: Transitions, agent: Transitions,
                      key: jax.Array) -> jnp.ndarray:
        """(|grad f| - 1)^2 at interpolates of expert and agent transitions, the gradient taken
        with respect to the normalised s and s' (and a Box action when g sees it)."""
        net = self.discriminator
        mix = jax.random.uniform(key, (expert.obs.shape[0], 1))

        def blend(expert_part: jnp.ndarray, agent_part: jnp.ndarray) -> jnp.ndarray:
            return mix * expert_part + (1 - mix) * agent_part

        inputs = {"obs": blend(obs_norm(expert.obs), obs_norm(agent.obs)),
                  "next_obs": blend(obs_norm(expert.next_obs), obs_norm(agent.next_obs))}
        if not self.disc_state_only and not self.spec.discrete:
            inputs["actions"] = blend(expert.actions, agent.actions)
        identity = ObsNormalizer.identity(self.spec.obs_dim)

        def f(one: dict[str, jnp.ndarray], actions: jnp.ndarray) -> jnp.ndarray:
            transition = Transitions(obs=one["obs"], actions=one.get("actions", actions), rewards=jnp.zeros(()),
                                     next_obs=one["next_obs"], terminated=jnp.zeros(()), truncated=jnp.zeros(()))
            return net.shaped_reward({"net": net_params, "obs_norm": identity}, transition)

        grads = jax.vmap(jax.grad(f))(inputs, agent.actions)
        norm = jnp.sqrt(sum(jnp.sum(g ** 2, axis=-1) for g in grads.values()))
        return ((norm - 1.0) ** 2).mean()

    def update_discriminator(self, state: GAILState, agent: Transitions) -> tuple[GAILState, dict[str, jnp.ndarray]]:
        """The generator's discriminator, then (`separate_reward`) the saved reward on the
        same rollout plus the replay, at a learning rate that decays to zero."""
        state, metrics = super().update_discriminator(state, agent)
        if not self.config.separate_reward:
            return state, metrics
        replay = state.replay if self.config.reward_replay_size > 0 else None
        net_params, opt_state, reward_metrics = self._saved_reward_learner.fit_discriminator(
            state, state.reward_params["net"], state.reward_opt_state, self.reward_optimizer, agent, replay,
            jax.random.fold_in(state.key, 2), grad_penalty=0.0)
        state = state.replace(reward_params={**state.reward_params, "net": net_params}, reward_opt_state=opt_state)
        return state, {**metrics, "reward_disc_loss": reward_metrics["disc_loss"]}

    def learned_reward(self, disc_params: dict[str, Any], transitions: Transitions) -> jnp.ndarray:
        """g(s[, a]) plus the absorbing value after terminal transitions: the reward to reuse, f32[...]
        (`disc_params`: `saved_reward_params`)."""
        return self.saved_reward_net.reward(disc_params, transitions)


def train_airl(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: AIRLConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> AdversarialResult:
    """Learn a reward and a policy from the expert transitions `expert` (`[num_transitions, ...]`);
    `hyperparams` ({traced field: f[num_points]}) makes it a sweep of num_points x num_seeds runs."""
    config = hide_episode_context(config.validate(), env, expert, seed)
    return train_adversarial(AIRL(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint, hyperparams)
