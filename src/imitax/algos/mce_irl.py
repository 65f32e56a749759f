"""Maximum causal entropy inverse RL (Ziebart et al. 2010) on tabular MDPs with known dynamics.

The learner models the expert as the soft-optimal policy of a reward r_theta(s) (linear
in the state features, or a small MLP of them) and maximises the causal log-likelihood
of the expert's behaviour. Its gradient with respect to the per-state reward is the
difference of state visitations:

    d NLL / d r(s) = D_learner(s) - D_expert(s)

where D_learner comes exactly from soft value iteration and the forward pass
(`imitax.rl.tabular`), and D_expert is the expert's exact visitation or the empirical
one of sampled demonstrations. For a linear reward r = F theta this is the familiar
feature-expectation gap F^T (D_learner - D_expert); for an MLP the difference is the
cotangent pulled back through the network (one `jax.vjp`). The NLL itself (per episode)
is p0 . V_0 - D_expert . r, logged as `expert_nll`.

Evaluation: the policy that is optimal (hard value iteration) under the learned reward,
its exact expected TRUE return, as a ratio of the expert's true return and normalised
(uniform random policy = 0, expert = 1). The default expert is the optimal policy
under the true reward.

The whole optimisation is one compiled program (chunks of `log_every` steps between log
points); `num_seeds` runs, each with its own expert visitation (e.g. its own sampled
demonstrations), are vmapped.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from imitax.envs.tabular import TabularMDP
from imitax.errors import ConfigError, require_non_negative, require_positive
from imitax.nets.compiled_init import init_network
from imitax.nets.mlp import MLP, check_network
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, run_compiled
from imitax.rl.tabular import expected_return, soft_value_iteration, state_visitation, uniform_policy, value_iteration

ExpertKind = Literal["optimal", "soft"]


@dataclasses.dataclass(frozen=True)
class MCEIRLConfig:
    """MCE IRL hyperparameters."""

    reward_model: Literal["linear", "mlp"] = "linear"
    """linear: r(s) = features(s) . theta; mlp: r(s) = MLP(features(s))"""
    hidden_sizes: tuple[int, ...] = (32, 32)
    """hidden layers of the mlp reward"""
    activation: str = "relu"
    """activation of the mlp reward (tanh, relu, gelu, silu)"""
    learning_rate: float = 0.05
    """Adam step size"""
    num_steps: int = 500
    """optimiser steps (each: soft value iteration + forward occupancy + one Adam update)"""
    l2_coef: float = 0.0
    """L2 penalty l2_coef * ||theta||^2 on the reward parameters"""
    discount: float = 1.0
    """discount of the learner's soft value iteration and visitation (1: plain finite horizon)"""
    log_every: int = 25
    """optimiser steps between log points (metric rows, evaluations)"""

    def validate(self) -> MCEIRLConfig:
        require_positive(self, "mce_irl", "learning_rate", "num_steps", "log_every")
        require_non_negative(self, "mce_irl", "l2_coef")
        if self.reward_model not in ("linear", "mlp"):
            raise ConfigError(f"mce_irl.reward_model must be 'linear' or 'mlp'; got {self.reward_model!r}")
        check_network(self.hidden_sizes, self.activation, hidden_name="mce_irl.hidden_sizes",
                      activation_name="mce_irl.activation")
        if not 0.0 < self.discount <= 1.0:
            raise ConfigError(f"mce_irl.discount must be in (0, 1]; got {self.discount}")
        if self.num_steps % self.log_every:
            raise ConfigError(f"mce_irl.num_steps ({self.num_steps}) must be a multiple of mce_irl.log_every "
                              f"({self.log_every})")
        return self


@dataclasses.dataclass(frozen=True)
class RewardModel:
    """r_theta: f32[S, F] state features -> f32[S] state rewards."""

    kind: str = "linear"
    hidden_sizes: tuple[int, ...] = (32, 32)
    activation: str = "relu"

    @classmethod
    def from_config(cls, config: MCEIRLConfig) -> RewardModel:
        return cls(config.reward_model, tuple(config.hidden_sizes), config.activation)

    @property
    def net(self) -> MLP:
        return MLP(self.hidden_sizes, 1, self.activation)

    def init(self, key: jax.Array, num_features: int) -> Any:
        if self.kind == "linear":
            return {"theta": jnp.zeros(num_features)}
        return init_network(self.net, key, ((1, num_features),))

    def __call__(self, params: Any, features: jnp.ndarray) -> jnp.ndarray:
        if self.kind == "linear":
            return features @ params["theta"]
        return self.net.apply(params, features)[:, 0]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "hidden_sizes": list(self.hidden_sizes), "activation": self.activation}


# ---------------------------------------------------------------------------- experts and demonstrations


@partial(jax.jit, static_argnums=1)
def expert_policy(mdp: TabularMDP, kind: ExpertKind = "optimal") -> jnp.ndarray:
    """f32[H, S, A]: the optimal (hard value iteration) or soft-optimal policy under the true reward."""
    if kind == "optimal":
        return value_iteration(mdp, mdp.true_reward)[0]
    if kind == "soft":
        return soft_value_iteration(mdp, mdp.true_reward)[0]
    raise ConfigError(f"expert must be 'optimal' or 'soft'; got {kind!r}")


@struct.dataclass
class TabularDemos:
    """Sampled episodes: `states: i32[N, H]` (s_0..s_{H-1}) and `actions: i32[N, H]`."""

    states: jnp.ndarray
    actions: jnp.ndarray


@partial(jax.jit, static_argnums=3)
def sample_demonstrations(mdp: TabularMDP, policy: jnp.ndarray, key: jax.Array, num_episodes: int) -> TabularDemos:
    """Roll `policy: f32[H, S, A]` out for `num_episodes` full episodes of `mdp.horizon` steps."""

    def episode(episode_key: jax.Array) -> tuple[jnp.ndarray, jnp.ndarray]:
        start_key, steps_key = jax.random.split(episode_key)
        first = jax.random.categorical(start_key, jnp.log(mdp.initial_dist))

        def step(state: jnp.ndarray, inputs: tuple[jax.Array, jnp.ndarray]) -> tuple[jnp.ndarray, tuple[jnp.ndarray, jnp.ndarray]]:
            step_key, policy_t = inputs
            action_key, next_key = jax.random.split(step_key)
            action = jax.random.categorical(action_key, jnp.log(policy_t[state]))
            next_state = jax.random.categorical(next_key, jnp.log(mdp.transitions[state, action]))
            return next_state, (state, action)

        return jax.lax.scan(step, first, (jax.random.split(steps_key, mdp.horizon), policy))[1]

    states, actions = jax.vmap(episode)(jax.random.split(key, num_episodes))
    return TabularDemos(states.astype(jnp.int32), actions.astype(jnp.int32))


@partial(jax.jit, static_argnums=1)
def empirical_visitation(demos: TabularDemos, num_states: int, discount: float = 1.0) -> jnp.ndarray:
    """f32[S]: mean over episodes of sum_t discount^t [s_t = s] (sums to H when discount is 1)."""
    weights = discount ** jnp.arange(demos.states.shape[1])
    return jnp.einsum("t,nts->s", weights, jax.nn.one_hot(demos.states, num_states)) / demos.states.shape[0]


# ---------------------------------------------------------------------------- the learner


@dataclasses.dataclass(frozen=True)
class References:
    """Exact undiscounted true returns of the expert and of the uniform random policy."""

    expert_return: float
    random_return: float

    @classmethod
    def of(cls, mdp: TabularMDP, expert: jnp.ndarray) -> References:
        return cls(float(expected_return(mdp, expert, mdp.true_reward)),
                   float(expected_return(mdp, uniform_policy(mdp), mdp.true_reward)))


@struct.dataclass
class MCEIRLState:
    reward_params: Any
    opt_state: optax.OptState
    expert_visitation: jnp.ndarray  # f32[S], what this run imitates
    step: jnp.ndarray


@dataclasses.dataclass(frozen=True)
class MCEIRL:
    config: MCEIRLConfig

    @property
    def reward_model(self) -> RewardModel:
        return RewardModel.from_config(self.config)

    def optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.config.learning_rate)

    def init(self, key: jax.Array, mdp: TabularMDP, expert_visitation: jnp.ndarray) -> MCEIRLState:
        params = self.reward_model.init(key, mdp.num_features)
        return MCEIRLState(params, self.optimizer().init(params), expert_visitation, jnp.zeros((), jnp.int32))

    def update(self, state: MCEIRLState, mdp: TabularMDP) -> tuple[MCEIRLState, dict[str, jnp.ndarray]]:
        """One step: soft VI and the forward pass under the current reward, then Adam on
        the exact NLL gradient (visitation difference pulled back through the reward)."""
        discount = self.config.discount
        reward, pull_back = jax.vjp(lambda params: self.reward_model(params, mdp.features), state.reward_params)
        policy, values = soft_value_iteration(mdp, reward, discount)
        learner_visitation = state_visitation(mdp, policy, discount)
        visitation_gap = learner_visitation - state.expert_visitation
        (grads,) = pull_back(visitation_gap)
        if self.config.l2_coef > 0:
            grads = jax.tree.map(lambda g, p: g + 2.0 * self.config.l2_coef * p, grads, state.reward_params)
        updates, opt_state = self.optimizer().update(grads, state.opt_state, state.reward_params)
        total_visits = state.expert_visitation.sum()
        metrics = {
            "expert_nll": mdp.initial_dist @ values[0] - state.expert_visitation @ reward,
            "occupancy_gap": 0.5 * jnp.abs(visitation_gap).sum() / total_visits,
            "feature_gap": jnp.linalg.norm(mdp.features.T @ visitation_gap) / total_visits,
        }
        return state.replace(reward_params=optax.apply_updates(state.reward_params, updates), opt_state=opt_state,
                             step=state.step + 1), metrics

    def evaluate(self, params: Any, mdp: TabularMDP, references: References) -> dict[str, jnp.ndarray]:
        """True return of the policy optimal under the learned reward, raw, as a ratio of the
        expert's, and normalised; and the correlation of learned and true rewards."""
        reward = self.reward_model(params, mdp.features)
        greedy = value_iteration(mdp, reward, self.config.discount)[0]
        true_return = expected_return(mdp, greedy, mdp.true_reward)
        return {
            "true_return": true_return,
            "return_ratio": true_return / references.expert_return,
            "normalized_return": (true_return - references.random_return)
            / (references.expert_return - references.random_return),
            "reward_correlation": jnp.corrcoef(reward, mdp.true_reward)[0, 1],
        }


@dataclasses.dataclass
class MCEIRLResult:
    """One entry per seed on the leading axis.

    Attributes:
        reward_params: the learned reward's parameters, leading [num_seeds] axis.
        learned_reward: f32[num_seeds, S].
        soft_policy: f32[num_seeds, H, S, A], soft-optimal under the learned reward.
        optimal_policy: f32[num_seeds, H, S, A], optimal under the learned reward.
        history: {metric: f[num_seeds, num_steps // log_every]}, at the end of each chunk.
        references: the expert's and the random policy's true returns.
    """

    algo: MCEIRL
    reward_params: Any
    learned_reward: np.ndarray
    soft_policy: np.ndarray
    optimal_policy: np.ndarray
    history: dict[str, np.ndarray]
    references: References
    compile_s: float
    run_s: float

    @property
    def final(self) -> dict[str, np.ndarray]:
        """Each metric at the last log point: f[num_seeds]."""
        return {name: values[:, -1] for name, values in self.history.items()}

    @property
    def steps_per_s(self) -> float:
        """Optimiser steps per second, all seeds together."""
        return self.algo.config.num_steps * self.learned_reward.shape[0] / max(self.run_s, 1e-9)


def train_mce_irl(
    mdp: TabularMDP,
    expert_visitation: Any,
    config: MCEIRLConfig = MCEIRLConfig(),
    seed: int = 0,
    num_seeds: int = 1,
    references: References | None = None,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> MCEIRLResult:
    """Learn a reward whose soft-optimal policy matches `expert_visitation`.

    Args:
        mdp: the MDP with known dynamics (its `true_reward` is used for evaluation only).
        expert_visitation: f32[S], or f32[num_seeds, S] for one per run, the expert's
            expected (discounted with `config.discount`) state visits, e.g. from
            `state_visitation(mdp, expert_policy(mdp))` or `empirical_visitation(demos, ...)`.
        references: expert and random true returns for the evaluation metrics (default:
            the optimal expert's).
        on_chunk: called with (log points done, metrics {name: [num_seeds, chunk]}).
    """
    config.validate()
    algo = MCEIRL(config)
    expert_visitation = jnp.asarray(expert_visitation, jnp.float32)
    if expert_visitation.ndim == 1:
        expert_visitation = jnp.broadcast_to(expert_visitation, (num_seeds, *expert_visitation.shape))
    if expert_visitation.shape != (num_seeds, mdp.num_states):
        raise ConfigError(f"expert_visitation must have shape ({mdp.num_states},) or (num_seeds={num_seeds}, "
                          f"{mdp.num_states}); got {tuple(expert_visitation.shape)}")
    if not bool(jnp.isfinite(expert_visitation).all()) or bool((expert_visitation < 0).any()):
        raise ConfigError("expert_visitation must hold finite visit counts >= 0")
    references = references or References.of(mdp, expert_policy(mdp))
    if references.expert_return == references.random_return:
        raise ConfigError(f"the expert's true return equals the random policy's ({references.expert_return:g}): "
                          "the normalised return is undefined; expected a reward that rewards some behaviour")

    def init(key: jax.Array) -> MCEIRLState:  # run_compiled gets the carry ready-made (one visitation per seed)
        return algo.init(key, mdp, expert_visitation[0])

    def chunk(state: MCEIRLState) -> tuple[MCEIRLState, dict[str, jnp.ndarray]]:
        state, metrics = jax.lax.scan(lambda s, _: algo.update(s, mdp), state, None, length=config.log_every)
        metrics = jax.tree.map(lambda m: m[-1], metrics)
        return state, {**metrics, **algo.evaluate(state.reward_params, mdp, references)}

    keys = jax.random.split(jax.random.PRNGKey(seed), num_seeds)
    carry = jax.vmap(lambda key, visits: algo.init(key, mdp, visits))(keys, expert_visitation)
    loop = run_compiled(init, chunk, jax.random.PRNGKey(seed), config.num_steps // config.log_every,
                        num_seeds=num_seeds, on_chunk=on_chunk, carry=carry, checkpoint=checkpoint)
    learned_reward, soft_policy, optimal_policy = _policies(algo, mdp, loop.carry.reward_params)
    return MCEIRLResult(algo, loop.carry.reward_params, np.asarray(learned_reward), np.asarray(soft_policy),
                        np.asarray(optimal_policy), loop.history, references, loop.compile_s, loop.run_s)


@partial(jax.jit, static_argnums=0)
def _policies(algo: MCEIRL, mdp: TabularMDP, reward_params: Any) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Learned reward f32[num_seeds, S], soft-optimal and optimal policies f32[num_seeds, H, S, A] of each seed."""

    def one(params: Any) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        reward = algo.reward_model(params, mdp.features)
        discount = algo.config.discount
        return reward, soft_value_iteration(mdp, reward, discount)[0], value_iteration(mdp, reward, discount)[0]

    return jax.vmap(one)(reward_params)
