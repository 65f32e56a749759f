"""IQ-Learn: inverse soft-Q learning (Garg et al., 2021), online and offline, on SAC's networks.

One soft Q-function stands for both the reward and the policy: the reward it implies is
r(s, a) = Q(s, a) - gamma * V(s'), with V(s) = E_a~pi[Q(s, a) - alpha log pi(a|s)], and
the policy is SAC's actor trained against it as usual. Instead of SAC's TD loss the critics
minimise the chi-squared form of the IQ objective:

    - E_expert[Q(s, a) - gamma V(s')]                 (expert transitions are worth much)
    + E_rho[V(s) - gamma V(s')]                       (but values overall stay low)
    + chi2_weight * E_batch[(Q(s, a) - gamma V(s'))^2] (the chi^2 regulariser, 1/(4 alpha))

where rho is the batch's expert and agent states ("value") or the expert's alone
("value_expert", the offline default); or, in place of the second term, (1 - gamma) E[V(s0)]
over the expert's states ("v0", the online default; the paper's code's choice for Hopper and
Walker2d). V(s') comes from the target critics, V(s) from
the online ones (one sampled action for Box actions, the exact expectation for Discrete).
One critic by default (with several, each gets the loss and their minimum gives V). For
Box actions the actor and the temperature then take SAC's step on the batch's states; for
Discrete ones the policy is softmax(Q / alpha) of the (first) critic itself, kept exactly in
the actor's network, so V(s) = alpha logsumexp(Q(s, .) / alpha) (the paper's soft Q agent). Defaults follow the paper's
code for SAC: a fixed temperature of 0.01.

Termination (`absorbing=True`, the default): a terminal transition leads to an absorbing
state that loops on itself, whose value V_abs is learned in the same objective (one scalar per
critic, with a target copy). Every terminal transition in a batch brings one absorbing
transition of the same source (expert or agent), as DAC's replay does, with the implicit
reward (1 - gamma) V_abs. So ending an episode is worth what the expert's data says: where
the expert ends its episodes (a goal) V_abs is pushed up, where only the agent does (a fall)
it is not. With `absorbing=False` V is 0 after a terminal transition (the paper's code): an
episode's end then pays its implicit reward once and nothing after, so wherever the agent's
rewards sit below 0 (the value term pushes them there) ending early looks good; a learned
V_abs is pushed down by the same term, so it carries no such bias. V_abs is one scalar on the
scale of 1 / (1 - gamma) rewards, so its Adam step is taken in reward units (see
`gradient_step`). Held out, 10 demos, 100k env steps, 2 seeds: Acrobot-v1 0.982 (0.450 with the
step at the critics' rate: the agent learned to put the goal off), MountainCar-v0 0.976 (0.796).
Where the expert never ends an episode V_abs stays exactly 0.

Offline (`offline=True`): no environment step at all; every batch is the expert's and the
run takes as many gradient steps as an online run of the same config would.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from imitax.algos.off_policy_imitation import (IMITATION_SAC, OffPolicyImitationResult, SACImitation, expert_rows,
                                                mixed_batch, sac_for_env, train_off_policy_imitation)
from imitax.data.replay import ReplayBuffer
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec
from imitax.errors import ConfigError, require_non_negative
from imitax.rl import rates
from imitax.rl.implicit_reward import ImplicitReward
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, run_compiled
from imitax.rl.sac import SACConfig, SACState

# The paper's SAC settings for imitation: a small fixed temperature (its code's init_temp 1e-2,
# learn_temp false) and one critic (its MuJoCo configs' SingleQCritic); everything else is SQIL's
# and DAC's learner. With SAC's clipped double Q, V = min of two critics is pushed down by the
# value term with nothing to hold it: on Pendulum (10 demos, 3 seeds) Q drifted to -600 and
# the score to -0.02; with one critic Q stayed within +-10 and the score was 0.83.
IQ_SAC = dataclasses.replace(IMITATION_SAC, init_alpha=0.01, learn_alpha=False, num_critics=1)
VALUE_LOSSES = ("auto", "value", "value_expert", "v0")


@dataclasses.dataclass(frozen=True)
class IQLearnConfig:
    """IQ-Learn hyperparameters; `IQLearnConfig.for_env(id)` adds the task's budget."""

    sac: SACConfig = IQ_SAC
    """the soft actor-critic networks and optimisers (total_steps: the run's length; offline, its
    gradient steps are total_steps / (num_envs * rollout_steps) * gradient_steps)"""
    offline: bool = False
    """learn from the demonstrations alone, without stepping the environment"""
    expert_fraction: float = 0.5
    """online: share of each batch drawn from the demonstrations (the rest from the replay)"""
    value_loss: str = "auto"
    """the term that keeps values low: E[V(s) - gamma V(s')] over 'value' (expert and agent states) or
    'value_expert' (expert states only); 'v0': (1 - gamma) E[V(s0)] with every expert state standing in
    for an initial one (the paper's code's form, its Hopper and Walker2d setting); 'auto': 'v0'
    online, 'value_expert' offline"""
    chi2_weight: float = 0.5
    """weight of the chi^2 regulariser (Q - gamma V')^2 over the batch: 1/(4 alpha), alpha = 0.5"""
    absorbing: bool = True
    """terminal transitions lead to an absorbing state whose value is learned (False: V = 0 there)"""
    grad_penalty: float = 0.0
    """online: weight of (|grad Q| - 1)^2 at expert/agent interpolates (the paper's optional
    Wasserstein-1 penalty; its code's lambda_gp is 10); 0: none"""

    def validate(self) -> IQLearnConfig:
        self.sac.validate()
        if self.value_loss not in VALUE_LOSSES:
            raise ConfigError(f"iq_learn.value_loss is {self.value_loss!r}; expected one of {', '.join(VALUE_LOSSES)}")
        if self.offline and self.value_loss == "value":
            raise ConfigError("iq_learn.value_loss 'value' needs the agent's own states; an offline run has none: "
                              "expected 'value_expert' or 'auto' with iq_learn.offline")
        if not 0.0 < self.expert_fraction < 1.0:
            raise ConfigError(f"iq_learn.expert_fraction must be in (0, 1), got {self.expert_fraction}")
        require_non_negative(self, "iq_learn", "chi2_weight", "grad_penalty")
        return self

    def resolved(self, spec: EnvSpec) -> IQLearnConfig:
        """This config with `value_loss` "auto" resolved (`spec` unused: nothing depends on it)."""
        return dataclasses.replace(self, value_loss=self.resolved_value_loss)

    @property
    def resolved_value_loss(self) -> str:
        if self.value_loss != "auto":
            return self.value_loss
        # online 'v0' since 2026-11-28 (5 seeds): Pendulum from 1 demo 0.912 against 0.136 with
        # 'value', from 10 0.985 against 0.942; CartPole from 1 demo 0.997 against 0.937.
        return "value_expert" if self.offline else "v0"

    @property
    def expert_batch_size(self) -> int:
        if self.offline:
            return self.sac.batch_size
        return max(1, min(self.sac.batch_size - 1, round(self.expert_fraction * self.sac.batch_size)))

    @property
    def gradient_steps(self) -> int:
        """Per seed, over the whole run."""
        return self.sac.num_iterations * self.sac.gradient_steps

    @classmethod
    def for_env(cls, env_id: str, **overrides: Any) -> IQLearnConfig:
        """The defaults with the task's budget; `sac={...}` overrides learner fields."""
        sac = sac_for_env(env_id, base=IQ_SAC, **overrides.pop("sac", {}))
        return dataclasses.replace(cls(sac=sac), **overrides)


@struct.dataclass
class AbsorbingValue:
    """V of the absorbing state per critic (f32[num_critics]), its Polyak target and Adam state."""

    value: jnp.ndarray
    target: jnp.ndarray
    opt_state: optax.OptState


@struct.dataclass
class IQLearnState:
    sac: SACState
    absorbing: AbsorbingValue
    expert: Transitions  # fields [num_expert, ...]; carried so vmapped runs share one program


@dataclasses.dataclass(frozen=True)
class IQLearn(SACImitation):
    config: IQLearnConfig

    @property
    def reward_network(self) -> ImplicitReward:
        c = self.config.sac
        return ImplicitReward(self.spec, tuple(c.hidden_sizes), c.activation, c.gamma, c.num_critics)

    def _absorbing_optimizer(self) -> optax.GradientTransformation:
        return rates.adam(self.config.sac.critic_learning_rate)  # the critics' rate, held in the state

    @property
    def traced_fields(self) -> tuple[str, ...]:
        return () if self.config.offline else super().traced_fields  # offline: the SAC loop is not used

    def with_hyperparams(self, state: IQLearnState, values: dict[str, Any]) -> IQLearnState:
        state = super().with_hyperparams(state, values)
        if "sac.critic_learning_rate" in values:  # V_abs learns with the critics
            opt_state = rates.with_rate(state.absorbing.opt_state, values["sac.critic_learning_rate"])
            state = state.replace(absorbing=state.absorbing.replace(opt_state=opt_state))
        return state

    def init(self, key: jax.Array, expert: Transitions) -> IQLearnState:
        value = jnp.zeros((self.config.sac.num_critics,), jnp.float32)
        absorbing = AbsorbingValue(value, value, self._absorbing_optimizer().init(value))
        return IQLearnState(self.sac.init(key), absorbing, expert)

    def act(self, state: IQLearnState, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        return self.sac.act(state.sac, key, obs)

    def saved_reward(self, state: IQLearnState) -> tuple[dict[str, Any], dict[str, Any]]:
        """(parameters, metadata) of the recovered reward, for `imitax train rl --reward`."""
        s = state.sac
        params = {"actor": s.actor_params, "critics": s.critic_params, "obs_norm": s.obs_norm, "log_alpha": s.log_alpha}
        return params, {"network": self.reward_network.config()}

    def gradient_step(self, carry: tuple[SACState, AbsorbingValue], batch: Transitions,
                      from_expert: jnp.ndarray) -> tuple[tuple[SACState, AbsorbingValue], dict[str, jnp.ndarray]]:
        """One IQ step of the critics (and the absorbing value) on `batch` ([B, ...];
        `from_expert`: f32[B] of 0/1), then SAC's actor and temperature step on its states (Box)
        or the policy set to softmax(Q / alpha) (Discrete)."""
        c, sac = self.config, self.sac
        state, absorbing = carry
        gamma = c.sac.gamma
        key, value_key, next_key, actor_key = jax.random.split(state.key, 4)
        penalty_key = jax.random.fold_in(value_key, 1)
        terminal = batch.terminated.astype(jnp.float32)
        # absorbing rows: one per terminal row, of the same source (none without `absorbing`)
        absorbing_expert = (from_expert * terminal).sum() if c.absorbing else 0.0
        absorbing_all = terminal.sum() if c.absorbing else 0.0
        num_expert = from_expert.sum()
        agent = 1.0 - from_expert
        next_value = sac.soft_value(state.target_critic_params, state, next_key, batch.next_obs)
        after_terminal = absorbing.target.min() if c.absorbing else 0.0
        discounted_next = jax.lax.stop_gradient(gamma * jnp.where(batch.terminated, after_terminal, next_value))
        absorbing_next = jax.lax.stop_gradient(gamma * absorbing.target.min())
        value_loss = c.resolved_value_loss

        def iq_loss(params: tuple[Any, jnp.ndarray]) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
            critic_params, absorbing_value = params
            q = sac.q_values(critic_params, state, batch)  # [num_critics, B]
            value = sac.soft_value(critic_params, state, value_key, batch.obs)  # [B]
            reward = q - discounted_next[None]  # the implicit reward r = Q - gamma V'
            absorbing_reward = absorbing_value - absorbing_next  # [num_critics]
            absorbing_value_term = absorbing_value.min() - absorbing_next
            expert_term = -((reward * from_expert).sum(-1) + absorbing_expert * absorbing_reward) / \
                (num_expert + absorbing_expert)
            if value_loss == "v0":
                value_term = (1.0 - gamma) * (value * from_expert).sum() / num_expert
            elif value_loss == "value_expert":
                value_term = (((value - discounted_next) * from_expert).sum() + absorbing_expert * absorbing_value_term) / \
                    (num_expert + absorbing_expert)
            else:
                value_term = ((value - discounted_next).sum() + absorbing_all * absorbing_value_term) / \
                    (from_expert.size + absorbing_all)
            chi2_term = c.chi2_weight * ((reward ** 2).sum(-1) + absorbing_all * absorbing_reward ** 2) / \
                (from_expert.size + absorbing_all)
            loss = (expert_term + value_term + chi2_term).mean()
            if c.grad_penalty > 0.0 and not c.offline:
                loss = loss + c.grad_penalty * self._grad_penalty(critic_params, state, batch, penalty_key)
            seen = reward.min(0)
            return loss, {"critic_loss": loss, "q_mean": q.mean(), "value_term": value_term,
                          "reward_expert": (seen * from_expert).sum() / num_expert,
                          "reward_agent": (seen * agent).sum() / jnp.maximum(agent.sum(), 1.0),
                          "absorbing_value": absorbing_value.min()}

        grads, metrics = jax.grad(iq_loss, has_aux=True)((state.critic_params, absorbing.value))
        state = sac.apply_critic_grads(state, grads[0])
        updates, opt_state = self._absorbing_optimizer().update(grads[1], absorbing.opt_state, absorbing.value)
        # V_abs is a value, 1 / (1 - gamma) times the absorbing loop's per-step reward, and Adam moves a
        # parameter by about its rate per step whatever the gradient's scale: at the critics' rate V_abs
        # climbed ~2.3 per 10k steps toward ~100 (held-out Acrobot-v1: 21.9 after 100k, so reaching the
        # goal paid less per step than the agent's own states and it learned to put the goal off). So
        # its step is taken in reward units, the update scaled by 1 / (1 - gamma).
        value = optax.apply_updates(absorbing.value, updates / (1.0 - gamma))
        absorbing = AbsorbingValue(value, optax.incremental_update(value, absorbing.target, c.sac.tau), opt_state)
        if self.spec.discrete:
            state, actor_metrics = self._soft_q_policy(state), {}
        else:
            state, actor_metrics = sac.update_actor(state, actor_key, batch.obs)
        return (state.replace(key=key), absorbing), {**metrics, **actor_metrics}

    def _grad_penalty(self, critic_params: Any, state: SACState, batch: Transitions, key: jax.Array) -> jnp.ndarray:
        """(|grad Q| - 1)^2 at random interpolates of the batch's expert rows (its first half
        online) and its agent rows, with respect to the normalised observation and, for Box
        actions, the action; Discrete actions take the expert row's action. Mean over critics."""
        half = min(self.config.expert_batch_size, batch.obs.shape[0] - self.config.expert_batch_size)
        expert = jax.tree.map(lambda x: x[:half], batch)
        agent = jax.tree.map(lambda x: x[-half:], batch)
        mix = jax.random.uniform(key, (half, 1))
        obs = mix * state.obs_norm(expert.obs) + (1.0 - mix) * state.obs_norm(agent.obs)
        critics = self.sac.critics

        def one_critic(index: jnp.ndarray) -> Any:
            return jax.tree.map(lambda p: p[index][None], critic_params)

        if self.spec.discrete:
            actions = expert.actions.astype(jnp.int32)[:, None]

            def q_sum(index: jnp.ndarray, o: jnp.ndarray) -> jnp.ndarray:  # rows are independent: grad per row
                return jnp.take_along_axis(critics.all_values(one_critic(index), o)[0], actions, axis=-1).sum()

            grads = jax.vmap(lambda i: jax.grad(q_sum, argnums=1)(i, obs))(jnp.arange(critics.num_critics))
        else:
            inputs = jnp.concatenate([obs, mix * expert.actions + (1.0 - mix) * agent.actions], axis=-1)
            split = obs.shape[1]

            def q_sum(index: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
                return critics.values(one_critic(index), x[:, :split], x[:, split:])[0].sum()

            grads = jax.vmap(lambda i: jax.grad(q_sum, argnums=1)(i, inputs))(jnp.arange(critics.num_critics))
        norms = jnp.sqrt((grads ** 2).sum(-1) + 1e-12)  # [num_critics, half]
        return ((norms - 1.0) ** 2).mean()

    def _soft_q_policy(self, state: SACState) -> SACState:
        """Discrete actions: the actor becomes softmax(Q / alpha) of the first critic exactly (the
        categorical policy's network is the critic's with its last layer divided by alpha), so
        V(s) = alpha logsumexp(Q(s, .) / alpha), as in the paper's soft Q-learning agent, and
        the target critics take their Polyak step."""
        scale = jnp.exp(-state.log_alpha)
        layers = jax.tree.map(lambda x: x[0], state.critic_params["params"])
        last = f"Dense_{len(self.config.sac.hidden_sizes)}"
        layers = {**layers, last: jax.tree.map(lambda x: x * scale, layers[last])}
        return self.sac.update_targets(state.replace(actor_params={"params": {"MLP_0": layers}}))

    def update(self, state: IQLearnState, replay: ReplayBuffer, key: jax.Array) -> tuple[IQLearnState, dict[str, jnp.ndarray]]:
        """Online: `gradient_steps` steps, each on expert rows and agent rows from the replay."""
        c = self.config
        num_expert = c.expert_batch_size
        from_expert = (jnp.arange(c.sac.batch_size) < num_expert).astype(jnp.float32)

        def step(carry: tuple[SACState, AbsorbingValue], step_key: jax.Array) -> tuple[Any, dict[str, jnp.ndarray]]:
            batch = mixed_batch(state.expert, replay, step_key, num_expert, c.sac.batch_size)
            return self.gradient_step(carry, batch, from_expert)

        (sac_state, absorbing), metrics = jax.lax.scan(step, (state.sac, state.absorbing),
                                                       jax.random.split(key, c.sac.gradient_steps))
        return state.replace(sac=sac_state, absorbing=absorbing), jax.tree.map(jnp.mean, metrics)

    def update_offline(self, state: IQLearnState, key: jax.Array) -> tuple[IQLearnState, dict[str, jnp.ndarray]]:
        """Offline: `gradient_steps` steps on batches of expert transitions only."""
        c = self.config
        from_expert = jnp.ones((c.sac.batch_size,), jnp.float32)

        def step(carry: tuple[SACState, AbsorbingValue], step_key: jax.Array) -> tuple[Any, dict[str, jnp.ndarray]]:
            return self.gradient_step(carry, expert_rows(state.expert, step_key, c.sac.batch_size), from_expert)

        (sac_state, absorbing), metrics = jax.lax.scan(step, (state.sac, state.absorbing),
                                                       jax.random.split(key, c.sac.gradient_steps))
        metrics = {k: v for k, v in metrics.items() if k != "reward_agent"}
        return state.replace(sac=sac_state, absorbing=absorbing), jax.tree.map(jnp.mean, metrics)


def train_iq_learn(
    env: JaxEnv | GymnasiumEnv,
    expert: Transitions,
    config: IQLearnConfig,
    seed: int = 0,
    num_seeds: int = 1,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> OffPolicyImitationResult:
    """Imitate the expert transitions `expert` (fields `[num_transitions, ...]`); `hyperparams`
    ({traced field: f[num_points]}, online only) makes it a sweep of num_points x num_seeds runs; offline
    runs use `env` only for its spec."""
    config.validate()
    algo = IQLearn(config, env.spec)
    if not config.offline:
        return train_off_policy_imitation(algo, env, expert, seed, num_seeds, on_chunk, checkpoint, hyperparams)
    expert = jax.device_put(expert)  # jnp.asarray would compile a program per field shape

    def init(key: jax.Array) -> tuple[IQLearnState, jax.Array]:
        algo_key, loop_key = jax.random.split(key)
        return algo.init(algo_key, expert), loop_key

    def iteration(carry: tuple[IQLearnState, jax.Array]) -> tuple[tuple[IQLearnState, jax.Array], dict[str, jnp.ndarray]]:
        state, key = carry
        key, update_key = jax.random.split(key)
        state, metrics = algo.update_offline(state, update_key)
        return (state, key), metrics

    result = run_compiled(init, iteration, jax.random.PRNGKey(seed), config.sac.num_iterations, num_seeds=num_seeds,
                          on_chunk=on_chunk, checkpoint=checkpoint, checked_part=lambda carry: carry[0].sac)
    return OffPolicyImitationResult(algo, result.carry[0], result.history, result.compile_s, result.run_s, env_steps=0)
