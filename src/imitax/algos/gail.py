"""GAIL: generative adversarial imitation learning (Ho & Ermon, 2016), with a PPO or SAC generator.

Each iteration: the generator collects experience, the discriminator takes `disc_steps`
gradient steps (binary cross-entropy, expert = 1, agent = 0) on the agent's transitions, and
the generator improves on a reward from the discriminator's logits (see
`imitax.algos.adversarial`). With the PPO generator (the default) the agent's transitions are
the latest rollout; with the SAC generator (`generator="sac"`) they come from the replay of
the whole run: that is DAC (`imitax.algos.dac`). On JAX environments the whole run is one
compiled program; `num_seeds` vmaps independent runs.

Termination is handled by construction (`absorbing=True`, the default; DAC, Kostrikov et
al. 2019): a terminal transition leads to an absorbing state that the discriminator
scores like any other input, once per terminal transition with the weight of its whole
discounted future, and its value is folded into the terminal transition's reward (see
`imitax.nets.absorbing`). So ending an episode is worth what the discriminator says it
is: bad where the expert never ends episodes (CartPole's fall), good where it does
(MountainCar's goal), irrelevant where no episode ends early (Pendulum). One reward is
then right on all three kinds of task.

Reward choices (`reward`), with D = sigmoid(logit) the probability of "expert":
- "auto" (default): "logit" with the PPO generator, "positive" with SAC (DAC's; see
  `DEFAULT_REWARD`).
- "logit": log D - log(1 - D), the AIRL/f-divergence form, unbiased in sign.
- "positive": -log(1 - D) = softplus(logit) >= 0, the original GAIL reward and DAC's. Without
  absorbing states it carries a survival bonus (wrong where the expert ends episodes).
- "negative": log D <= 0, a per-step cost; without absorbing states it pays for ending
  episodes early.

Time-limit cuts are not terminations: PPO bootstraps from the true final observation
after a truncation and from nothing (but the absorbing value) after a terminal state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from imitax.algos.adversarial import (BUDGETS, GENERATOR_PPO, Adversarial, AdversarialResult, AdversarialState,
                                      GeneratorOptions, check_disc_steps, generator_for_env, train_adversarial)
from imitax.data.episode_context import context_features, episodes_of
from imitax.data.types import Trajectory, Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError, require_non_negative, require_positive
from imitax.nets.discriminator import REWARD_KINDS, Discriminator, check_ignore_obs
from imitax.nets.mlp import check_network
from imitax.nets.normalizer import ObsNormalizer
from imitax.rl.loop import ChunkCallback, LoopCheckpoint

__all__ = ["BUDGETS", "GENERATOR_PPO", "GAIL", "GAILConfig", "GAILState", "AdversarialResult", "check_replay",
           "generator_for_env", "train_adversarial", "train_gail"]

GAILState = AdversarialState

# The reward form "auto" resolves to, per generator. With SAC (DAC) since 2026-11-29 "positive", the
# DAC paper's code's -log(1 - D): under "logit" a fall's absorbing value (gamma / (1 - gamma) x a logit
# near -9: about -930 on CartPole) dominated the critic's targets (critic loss ~10,000 early, the
# temperature driven up to 8), and DAC took 25k-52k env steps to 0.9 on CartPole (a third of GAIL's).
# With "positive" a fall is worth about 0 and living a little more: CartPole 1.000 from 10 demos and
# from 1 (5 seeds each), 0.9 at 7,349-10,015 env steps (benchmarks/results/off_policy.json, rows DAC and
# DAC-LOGIT). Where the expert ends episodes, the absorbing state scores as the expert's and ending pays:
# held-out Acrobot-v1 (ends on success) from 10 demos, 0.994 on 3 seeds, absorbing logit 0.3-1.5.
DEFAULT_REWARD = {"ppo": "logit", "sac": "positive"}
REWARD_CHOICES = ("auto", *REWARD_KINDS)


@dataclasses.dataclass(frozen=True)
class GAILConfig(GeneratorOptions):
    """GAIL hyperparameters; `GAILConfig.for_env(id)` adds the task's budgets."""

    reward: str = "auto"
    """reward from the discriminator logit: auto (logit with the PPO generator, positive with SAC) | logit |
    positive | negative"""
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
    disc_steps: int | None = None
    """discriminator gradient steps per iteration; None: 4 per PPO rollout, 1 per SAC iteration (DAC's)"""
    disc_batch_size: int = 256
    """agent samples (and as many expert samples) per discriminator step"""
    # 0.1 with PPO since 2026-11-27 (1 before; 10 demos, 5 seeds): the point mass 0.924 against
    # 0.890 (0 scored 0.867), InvertedDoublePendulum 0.908 against 0.892, the other tasks within
    # noise; robustness grid on MountainCar-v0 89% against 67%. DAC (SAC) keeps the 1 it was measured with.
    disc_grad_penalty: float | None = None
    """weight of the penalty (|grad logit| - 1)^2 at expert/agent interpolates (WGAN-GP, as in DAC); 0: off;
    None: 0.1 with the PPO generator, 1 with SAC (DAC)"""
    disc_ignore_obs: tuple[int, ...] | None = None
    """observation features the discriminator does not see (the policy still does); None: the features
    the env draws anew each episode that stay fixed within every demonstration, when there are fewer
    than 5 demonstrations (each shows one value of a goal the agent meets many of), else none"""
    disc_anneal_lr: bool | None = None
    """decay the discriminator's learning rate linearly to zero over the run; None: as the generator's
    rate does (PPO's, unless ppo.anneal_lr is off or ppo.target_kl set; SAC's is constant)"""
    disc_replay_size: int = 0
    """PPO generator: agent transitions kept from the whole run (reservoir) for the discriminator; 0: current rollout only"""
    disc_replay_fraction: float = 0.5
    """share of each discriminator batch's agent samples drawn from the reservoir"""

    def validate(self) -> GAILConfig:
        self.validate_discriminator("gail")
        return self

    def validate_discriminator(self, section: str) -> None:
        """ConfigError naming `section.field` for the first bad option."""
        self.validate_generator(section)
        if self.reward not in REWARD_CHOICES:
            raise ConfigError(f"unknown {section.upper()} reward {self.reward!r}; expected one of {', '.join(REWARD_CHOICES)}")
        require_positive(self, section, "disc_learning_rate", "disc_batch_size")
        check_disc_steps(self, section)
        check_network(self.disc_hidden_sizes, self.disc_activation, hidden_name=f"{section}.disc_hidden_sizes",
                      activation_name=f"{section}.disc_activation")
        if self.disc_grad_penalty is not None:
            require_non_negative(self, section, "disc_grad_penalty")
        if self.disc_ignore_obs is not None:
            check_ignore_obs(self.disc_ignore_obs, None, f"{section}.disc_ignore_obs")
        check_replay(self, section)

    def resolved(self, spec: EnvSpec) -> GAILConfig:
        """This config with its run-time defaults (None) resolved for `spec`."""
        return GAIL(self, spec).resolved_config

def check_replay(config: Any, section: str) -> None:
    """The discriminator replay options of a GAIL or AIRL config (a reservoir is the PPO generator's)."""
    require_non_negative(config, section, "disc_replay_size")
    if not 0.0 <= config.disc_replay_fraction <= 1.0:
        raise ConfigError(f"{section}.disc_replay_fraction must be in [0, 1], got {config.disc_replay_fraction}")
    if config.generator == "sac" and config.disc_replay_size > 0:
        raise ConfigError(f"{section}.disc_replay_size is {config.disc_replay_size}; expected 0 with the SAC generator "
                          "(its discriminator already draws from the replay of the whole run)")


@dataclasses.dataclass(frozen=True)
class GAIL(Adversarial):
    """GAIL's discriminator D(s, a[, s']) with its reward forms."""

    config: GAILConfig

    def __post_init__(self) -> None:
        check_ignore_obs(self.hidden_features, self.spec.obs_dim, "disc_ignore_obs")

    @property
    def hidden_features(self) -> tuple[int, ...]:
        """Observation features the discriminator does not see (`disc_ignore_obs`; None, not yet
        resolved by `hide_episode_context`, hides none)."""
        return tuple(self.config.disc_ignore_obs or ())

    @property
    def discriminator(self) -> Discriminator:
        c = self.config
        return Discriminator(self.spec, tuple(c.disc_hidden_sizes), c.disc_activation, c.use_next_obs, c.absorbing,
                             self.gamma, self.hidden_features)

    @property
    def generator_reward(self) -> str:
        """The reward form the generator is trained on, "auto" resolved by the generator (`DEFAULT_REWARD`)."""
        reward = self.config.reward
        return DEFAULT_REWARD[self.config.generator] if reward == "auto" else reward

    @property
    def resolved_config(self) -> GAILConfig:
        return dataclasses.replace(super().resolved_config, reward=self.generator_reward)

    def saved_reward_params(self, state: GAILState) -> dict[str, Any]:
        """The parameters of the reward the run saves (`learned_reward` takes them)."""
        return state.disc_params if state.reward_params is None else state.reward_params

    @property
    def saved_reward_net(self) -> Any:
        """The network of the reward the run saves (GAIL's: the discriminator)."""
        return self.discriminator

    def saved_reward(self, state: GAILState) -> tuple[dict[str, Any], dict[str, Any]]:
        """(parameters, metadata) of the reward a run saves, for `imitax train rl --reward`."""
        return self.saved_reward_params(state), {"network": self.saved_reward_net.config(), "reward": self.generator_reward}

    def logits(self, net_params: Any, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """f32[...]: log D - log(1 - D) of transitions with leading shape `[...]`."""
        return self.discriminator.logits({"net": net_params, "obs_norm": state.disc_params["obs_norm"]}, transitions)

    def absorbing_logit(self, net_params: Any) -> jnp.ndarray:
        """f32[]: the discriminator's logit of the absorbing state."""
        return self.discriminator.absorbing_logit({"net": net_params})

    def reward(self, state: GAILState, transitions: Transitions) -> jnp.ndarray:
        """The reward the generator is trained on, f32[...]: the step's, plus after a
        terminal transition the absorbing state's discounted value."""
        return self.discriminator.reward(state.disc_params, transitions, self.generator_reward)

    def _grad_penalty(self, net_params: Any, obs_norm: ObsNormalizer, expert: Transitions, agent: Transitions, key: jax.Array) -> jnp.ndarray:
        disc = self.discriminator
        mix = jax.random.uniform(key, (expert.obs.shape[0], 1))
        inputs = mix * disc.features(obs_norm, expert) + (1 - mix) * disc.features(obs_norm, agent)
        grads = jax.vmap(jax.grad(lambda x: disc.net.apply(net_params, x)))(inputs)
        return ((jnp.linalg.norm(grads, axis=-1) - 1.0) ** 2).mean()


def train_gail(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: GAILConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> AdversarialResult:
    """Imitate the expert transitions `expert` (fields `[num_transitions, ...]`); `hyperparams`
    ({traced field: f[num_points]}) makes it a sweep of num_points x num_seeds runs (`train_adversarial`)."""
    config = hide_episode_context(config.validate(), env, expert, seed)
    return train_adversarial(GAIL(config, env.spec), env, expert, seed, num_seeds, on_chunk, checkpoint, hyperparams)


def hide_episode_context(config: Any, env: JaxEnv | GymnasiumEnv, episodes: Sequence[Trajectory] | Transitions,
                         seed: int) -> Any:
    """`config` (GAIL's, DAC's or AIRL's) with `disc_ignore_obs` None resolved: the per-episode context features of fewer
    than FEW_EPISODES demonstrations `episodes` (`imitax.data.episode_context`), else none. Flattened
    transitions are split into episodes (`episodes_of`) only when there is something to resolve."""
    if config.disc_ignore_obs is not None:
        return config
    if isinstance(episodes, Transitions):
        episodes = episodes_of(episodes)
    return dataclasses.replace(config, disc_ignore_obs=tuple(context_features(env, episodes, seed)))


def episode_context(config: Any, env: JaxEnv | GymnasiumEnv, episodes: Sequence[Trajectory],
                    seed: int) -> tuple[Any, list[int], bool]:
    """(config, features, hidden) for any method's `config` and its demonstrations `episodes`:
    the config with `disc_ignore_obs` None resolved (`hide_episode_context`), the per-episode
    context features to tell the user about, and whether the discriminator hides them."""
    if getattr(config, "disc_ignore_obs", ()) is None:
        config = hide_episode_context(config, env, episodes, seed)
        return config, list(config.disc_ignore_obs), True
    return config, context_features(env, episodes, seed, getattr(config, "disc_ignore_obs", None) or ()), False
