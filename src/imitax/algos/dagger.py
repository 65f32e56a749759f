"""DAgger: dataset aggregation (Ross, Gordon & Bagnell, 2011), interactive imitation.

Behavioral cloning learns only the states the expert visits; a learner that drifts off
them meets states nobody taught it, and its mistakes compound along the episode. DAgger
asks the expert about the states the *learner* visits:

    round r: roll out the mixture policy (at every step, with probability beta_r the
             expert's action is executed, otherwise the learner's), label every visited
             state with the expert's action, add the pairs to the dataset, retrain BC on
             the whole aggregate.

The expert is any JAX-traceable `ExpertFn` (an imitax policy checkpoint becomes one with
`imitax.io.expert_policy.load_expert`). Each round collects `episodes_per_round` fresh
episodes, each to its end. Every visited state costs one expert label; `expert_labels`
counts the (state, expert action) pairs in the aggregate, initial demonstrations included.

Each round retrains BC from freshly initialised weights by default: the learner is then BC
on the aggregate, the policy DAgger's analysis is about, whatever order the data came in,
and the aggregates are small enough (thousands of pairs) for that to be cheap;
`warm_start` continues the previous network instead (early rounds' fits linger).

On JAX environments the whole run (collection, labelling, retraining, evaluation) is one
compiled program: the dataset is a preallocated `LabelBuffer` with a fill count, so its
shape never changes, and BC takes `bc.num_steps` gradient steps on minibatches drawn from the
filled rows, however many there are.
Gymnasium environments collect in a host loop with the same compiled retraining.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from imitax.algos.bc import BC, BCConfig, BCState
from imitax.data.label_buffer import LabelBuffer
from imitax.data.rollout import episode_returns_jax, reset_jax, rollout_jax
from imitax.data.types import Transitions
from imitax.envs.gymnasium_env import GymnasiumEnv, copies_for
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import EnvSpec, executed_actions
from imitax.errors import ConfigError, DatasetError, require_non_negative, require_positive
from imitax.nets.policy import Policy
from imitax.rl.loop import ChunkCallback, LoopCheckpoint, run_compiled, run_host

# expert_fn(key, obs: f32[obs_dim]) -> action: i32[] (Discrete) or f32[action_dim] (Box); JAX-traceable
ExpertFn = Callable[[jax.Array, jnp.ndarray], jnp.ndarray]

BETA_SCHEDULES = ("linear", "exponential", "constant")


@dataclasses.dataclass(frozen=True)
class DAggerConfig:
    """DAgger hyperparameters."""

    num_rounds: int = 10
    """rounds of collect -> label -> aggregate -> retrain"""
    episodes_per_round: int = 2
    """episodes collected per round (in parallel, each to its end); every visited state gets an expert label"""
    beta_schedule: Literal["linear", "exponential", "constant"] = "linear"
    """beta_r, the chance a step of round r (from 0) executes the expert's action: linear 1 - r/beta_rampdown_rounds (floor 0), exponential beta_decay**r, constant beta_constant"""
    beta_rampdown_rounds: int = 4
    """linear schedule: rounds over which beta falls from 1 to 0"""
    beta_decay: float = 0.5
    """exponential schedule: beta = beta_decay ** round"""
    beta_constant: float = 0.0
    """constant schedule: beta in every round (0: the learner alone acts)"""
    warm_start: bool = False
    """continue from the previous round's network instead of retraining BC from scratch on the aggregate"""
    sample_learner_actions: bool = False
    """execute sampled learner actions while collecting (default: the modal action, the one evaluated)"""
    eval_episodes: int = 10
    """deterministic evaluation episodes of the learner after each round"""
    bc: BCConfig = BCConfig(eval_episodes=0)
    """behavioral cloning run on the aggregate each round, bc.num_steps gradient steps (bc.eval_episodes and bc.log_every are unused)"""

    def validate(self) -> DAggerConfig:
        require_positive(self, "dagger", "num_rounds", "episodes_per_round", "beta_rampdown_rounds")
        require_non_negative(self, "dagger", "eval_episodes")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ConfigError(f"dagger.beta_schedule is {self.beta_schedule!r}; expected one of {', '.join(BETA_SCHEDULES)}")
        for name in ("beta_decay", "beta_constant"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"dagger.{name} must be a probability in [0, 1], got {value}")
        self.bc.validate()
        return self


def beta_for_round(config: DAggerConfig, round_index: Any) -> jnp.ndarray:
    """beta_r, the probability of executing the expert's action in round `round_index` (from 0)."""
    r = jnp.asarray(round_index, jnp.float32)
    if config.beta_schedule == "linear":
        return jnp.clip(1.0 - r / config.beta_rampdown_rounds, 0.0, 1.0)
    if config.beta_schedule == "exponential":
        return jnp.asarray(config.beta_decay, jnp.float32) ** r
    return jnp.full((), config.beta_constant, jnp.float32)


@struct.dataclass
class RoundData:
    """One round's collection, time-major `[max_episode_steps, episodes_per_round]`.

    obs: f32[T, N, obs_dim] visited states; labels: the expert's actions there (executed form);
    valid: bool[T, N], True up to and including each episode's last step;
    episode_return: f32[N], the return of each mixture-policy episode.
    """

    obs: jnp.ndarray
    labels: jnp.ndarray
    valid: jnp.ndarray
    episode_return: jnp.ndarray


@struct.dataclass
class DAggerState:
    """The learner, the aggregate dataset, the round counter and the last round's statistics."""

    bc: BCState
    buffer: LabelBuffer
    round_index: jnp.ndarray
    last_beta: jnp.ndarray
    last_rollout_return: jnp.ndarray


@dataclasses.dataclass(frozen=True)
class DAgger:
    config: DAggerConfig
    spec: EnvSpec

    @property
    def bc(self) -> BC:
        return BC(self.config.bc, self.spec)

    @property
    def policy(self) -> Policy:
        return self.bc.policy

    def capacity(self, num_initial: int) -> int:
        """Rows the aggregate can ever hold: the initial demos plus every step of every round."""
        return num_initial + self.config.num_rounds * self.config.episodes_per_round * self.spec.max_episode_steps

    def init(self, key: jax.Array, buffer: LabelBuffer) -> DAggerState:
        # 0 stands for "no round yet" (the loop refuses NaN in a carry); the result marks it NaN
        zero = jnp.zeros((), jnp.float32)
        return DAggerState(self.bc.init(key, buffer.obs_normalizer()), buffer, jnp.zeros((), jnp.int32), zero, zero)

    def expert_labels(self, expert_fn: ExpertFn, key: jax.Array, obs: jnp.ndarray) -> jnp.ndarray:
        """The expert's actions for `obs: f32[n, obs_dim]`, as executed (Box clipped)."""
        labels = jax.vmap(expert_fn)(jax.random.split(key, obs.shape[0]), obs)
        return executed_actions(self.spec.action_space, labels)

    def mixture_actions(self, expert_fn: ExpertFn, learner_params: Any, beta: jnp.ndarray, key: jax.Array,
                        obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(executed actions, expert labels) for `obs: f32[n, obs_dim]`: each row executes the
        expert's action with probability `beta` (an independent draw per row and step)."""
        expert_key, learner_key, coin_key = jax.random.split(key, 3)
        labels = self.expert_labels(expert_fn, expert_key, obs)
        learner = executed_actions(self.spec.action_space, self.policy.act(
            learner_params, learner_key, obs, deterministic=not self.config.sample_learner_actions))
        use_expert = jax.random.uniform(coin_key, (obs.shape[0],)) < beta
        use_expert = use_expert.reshape(-1, *([1] * (labels.ndim - 1)))
        return jnp.where(use_expert, labels, learner), labels

    def collect(self, env: JaxEnv, expert_fn: ExpertFn, learner_params: Any, beta: jnp.ndarray,
                key: jax.Array) -> RoundData:
        """`episodes_per_round` fresh episodes of the mixture policy (pure; call under jit)."""
        reset_key, run_key = jax.random.split(key)

        def act(step_key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
            executed, labels = self.mixture_actions(expert_fn, learner_params, beta, step_key, obs)
            return executed, {"label": labels}

        carry = reset_jax(env, reset_key, self.config.episodes_per_round)
        _, rollout = rollout_jax(env, act, carry, run_key, self.spec.max_episode_steps)
        dones = rollout.transitions.dones
        valid = (jnp.cumsum(dones, axis=0) - dones) == 0  # no earlier end in this env: its first episode
        episode_return = (rollout.episode_return * (dones & valid)).sum(0)
        return RoundData(rollout.transitions.obs, rollout.extras["label"], valid, episode_return)

    def fit(self, state: BCState, buffer: LabelBuffer) -> tuple[BCState, dict[str, jnp.ndarray]]:
        """BC on the filled rows of `buffer`: `bc.num_steps` gradient steps on minibatches of
        `bc.batch_size` rows drawn with replacement, however many rows the aggregate holds.
        From freshly initialised weights unless `warm_start`; observation statistics are
        those of the aggregate. Returns the metrics averaged over the steps (0 when empty:
        no step is taken)."""
        obs_norm = buffer.obs_normalizer()
        if self.config.warm_start:
            state = state.replace(params={**state.params, "obs_norm": obs_norm})
        else:
            state = self.bc.init(state.key, obs_norm)
        num_steps = jnp.where(buffer.count > 0, self.config.bc.num_steps, 0)
        return self.bc.fit(state, buffer.obs, buffer.actions, buffer.count, num_steps)

    def round_metrics(self, state: DAggerState, fit_metrics: dict[str, jnp.ndarray],
                      eval_return: jnp.ndarray) -> dict[str, jnp.ndarray]:
        return {"expert_labels": state.buffer.count, "beta": state.last_beta,
                "rollout_return": state.last_rollout_return, "episode_return": eval_return, **fit_metrics}


def initial_buffer(dagger: DAgger, initial_demos: Transitions | None) -> LabelBuffer:
    """An empty aggregate sized for the whole run, holding the initial demonstrations if any."""
    spec = dagger.spec
    if initial_demos is None:
        return LabelBuffer.allocate(spec, dagger.capacity(0))
    obs, actions = np.asarray(initial_demos.obs, np.float32), np.asarray(initial_demos.actions)
    expected_actions = (obs.shape[0], *spec.action_space.shape)
    if obs.ndim != 2 or obs.shape[1] != spec.obs_dim or actions.shape != expected_actions or obs.shape[0] == 0:
        raise DatasetError(f"initial demonstrations have obs {obs.shape} and actions {actions.shape}; expected obs "
                           f"[n > 0, {spec.obs_dim}] and actions {list(expected_actions)} for {spec.env_id}")
    buffer = LabelBuffer.allocate(spec, dagger.capacity(obs.shape[0]))
    return buffer.add(jnp.asarray(obs), jnp.asarray(actions), jnp.ones(obs.shape[0], bool))


def check_expert(expert_fn: ExpertFn, spec: EnvSpec) -> None:
    """Raise ConfigError unless `expert_fn(key, obs: f32[obs_dim])` traces to one action of the space."""
    try:
        out = jax.eval_shape(expert_fn, jax.random.PRNGKey(0), jnp.zeros(spec.obs_dim, jnp.float32))
    except Exception as error:  # noqa: BLE001 - any tracing failure means the callable does not fit the contract
        raise ConfigError(f"the expert could not be traced on one observation f32[{spec.obs_dim}] of {spec.env_id}: "
                          f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}; expected a "
                          "JAX-traceable expert_fn(key, obs) -> action") from None
    if tuple(getattr(out, "shape", (None,))) != spec.action_space.shape:
        raise ConfigError(f"the expert returned shape {tuple(getattr(out, 'shape', ()))} for one observation of "
                          f"{spec.env_id}; expected one action of shape {spec.action_space.shape} ({spec.action_space})")


@dataclasses.dataclass
class DAggerResult:
    """params: the learner's policy params, leading [num_seeds] axis.
    history: {metric: f[num_seeds, num_rounds + 1]}; entry 0 is the initial learner (BC on the
    initial demonstrations, untrained without them), entry r the learner after round r.
    Metrics: expert_labels (pairs it was trained on), beta and rollout_return of the
    round that produced the newest data (NaN at entry 0), loss / accuracy or neg_mse,
    episode_return (deterministic evaluation)."""

    dagger: DAgger
    params: dict[str, Any]
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float

    @property
    def policy(self) -> Policy:
        return self.dagger.policy

    @property
    def expert_labels(self) -> np.ndarray:
        """i[num_seeds]: expert labels in each seed's final aggregate (initial demos included)."""
        return np.asarray(self.history["expert_labels"][:, -1]).astype(int)

    @property
    def env_steps(self) -> int:
        """Environment steps taken by the mixture policy, over all seeds (= labels collected)."""
        return int((self.history["expert_labels"][:, -1] - self.history["expert_labels"][:, 0]).sum())


def train_dagger(
    env: JaxEnv | GymnasiumEnv,
    expert_fn: ExpertFn,
    config: DAggerConfig = DAggerConfig(),
    seed: int = 0,
    num_seeds: int = 1,
    initial_demos: Transitions | None = None,
    on_round: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
) -> DAggerResult:
    """Run `config.num_rounds` DAgger rounds for `num_seeds` independent seeds.

    `on_round(entries_done, metrics)` is called after each history entry with
    `{metric: [num_seeds, 1]}` (the initial learner first, then every round).
    """
    config.validate()
    if num_seeds <= 0:
        raise ConfigError(f"num_seeds must be > 0, got {num_seeds}")
    dagger = DAgger(config, env.spec)
    check_expert(expert_fn, env.spec)
    buffer = initial_buffer(dagger, initial_demos)
    report = None if on_round is None else partial(_report_round, on_round)
    if isinstance(env, JaxEnv):
        result = _run_jax(dagger, env, expert_fn, buffer, seed, num_seeds, report, checkpoint)
    elif isinstance(env, GymnasiumEnv):
        result = _run_host(dagger, env, expert_fn, buffer, seed, num_seeds, report, checkpoint)
    else:
        raise ConfigError(f"DAgger needs a JaxEnv or a GymnasiumEnv, got {type(env).__name__}")
    return DAggerResult(dagger, result.carry.bc.params, _mark_missing(result.history, 0), result.compile_s, result.run_s)


def _report_round(on_round: ChunkCallback, done: int, metrics: dict[str, np.ndarray]) -> None:
    on_round(done, _mark_missing(metrics, done - np.asarray(metrics["expert_labels"]).shape[1]))


ROUND_METRICS = ("beta", "rollout_return")
NOT_FIT_METRICS = ("expert_labels", "episode_return", *ROUND_METRICS)


def _mark_missing(metrics: dict[str, Any], first_entry: int) -> dict[str, np.ndarray]:
    """NaN for the placeholders the compiled loop reports as 0: beta and rollout_return of
    entry 0 (no round yet), the fit metrics of a learner trained on no labels.
    `metrics`: {name: [num_seeds, entries]} starting at history entry `first_entry`."""
    out = {name: np.asarray(values) for name, values in metrics.items()}
    untrained = out["expert_labels"] == 0
    for name in out:
        if name in ROUND_METRICS and first_entry == 0 or name not in NOT_FIT_METRICS and untrained.any():
            out[name] = out[name].astype(np.float64)
            if name in ROUND_METRICS:
                out[name][:, 0] = np.nan
            else:
                out[name][untrained] = np.nan
    return out


def _run_jax(dagger: DAgger, env: JaxEnv, expert_fn: ExpertFn, buffer: LabelBuffer, seed: int, num_seeds: int,
             on_round: ChunkCallback | None, checkpoint: LoopCheckpoint | None) -> Any:
    config = dagger.config

    def init(key: jax.Array) -> DAggerState:
        return dagger.init(key, buffer)

    def step(state: DAggerState) -> tuple[DAggerState, dict[str, jnp.ndarray]]:
        # train on the aggregate, evaluate, then collect the next round (none after the last)
        bc_state, fit_metrics = dagger.fit(state.bc, state.buffer)
        key, eval_key, collect_key = jax.random.split(bc_state.key, 3)
        params = bc_state.params
        eval_return = jnp.nan
        if config.eval_episodes > 0:
            returns, _ = episode_returns_jax(env, lambda k, o: dagger.policy.act(params, k, o, deterministic=True),
                                             eval_key, config.eval_episodes)
            eval_return = returns.mean()
        metrics = dagger.round_metrics(state, fit_metrics, eval_return)
        beta = beta_for_round(config, state.round_index)
        data = dagger.collect(env, expert_fn, params, beta, collect_key)
        more = state.round_index < config.num_rounds
        state = DAggerState(bc_state.replace(key=key), state.buffer.add(data.obs, data.labels, data.valid & more),
                            state.round_index + 1, beta, data.episode_return.mean())
        return state, metrics

    return run_compiled(init, step, jax.random.PRNGKey(seed), config.num_rounds + 1, num_seeds=num_seeds,
                        target_chunks=config.num_rounds + 1, on_chunk=on_round, checkpoint=checkpoint)


def _run_host(dagger: DAgger, env: GymnasiumEnv, expert_fn: ExpertFn, buffer: LabelBuffer, seed: int,
              num_seeds: int, on_round: ChunkCallback | None, checkpoint: LoopCheckpoint | None) -> Any:
    """Gymnasium: the mixture acts in a host loop; retraining and aggregation stay compiled. The
    env copies made for collecting and evaluating are closed after the run."""
    config = dagger.config
    with contextlib.ExitStack() as copies:
        collect_env = copies.enter_context(copies_for(env, config.episodes_per_round))
        eval_env = copies.enter_context(copies_for(env, config.eval_episodes)) if config.eval_episodes > 0 else None
        return _run_host_rounds(dagger, collect_env, eval_env, expert_fn, buffer, seed, num_seeds, on_round, checkpoint)


def _run_host_rounds(dagger: DAgger, collect_env: GymnasiumEnv, eval_env: GymnasiumEnv | None, expert_fn: ExpertFn,
                     buffer: LabelBuffer, seed: int, num_seeds: int, on_round: ChunkCallback | None,
                     checkpoint: LoopCheckpoint | None) -> Any:
    config, spec = dagger.config, dagger.spec
    fit = jax.jit(dagger.fit)
    add = jax.jit(LabelBuffer.add)
    mixture = jax.jit(lambda params, beta, key, obs: dagger.mixture_actions(expert_fn, params, beta, key, obs))

    @jax.jit
    def learner(params: Any, beta: jnp.ndarray, key: jax.Array, obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        actions = executed_actions(spec.action_space, dagger.policy.act(params, key, obs, deterministic=True))
        return actions, actions

    def run_episodes(vec_env: GymnasiumEnv, act: Any, params: Any, beta: jnp.ndarray, key: jax.Array) -> RoundData:
        """One episode per copy of `vec_env`, acting with `act(params, beta, key, obs) -> (executed, labels)`."""
        steps, num_envs = spec.max_episode_steps, vec_env.num_envs
        obs_rows = np.zeros((steps, num_envs, spec.obs_dim), np.float32)
        label_rows = np.zeros((steps, num_envs, *spec.action_space.shape), spec.action_space.dtype)
        valid = np.zeros((steps, num_envs), bool)
        returns = np.zeros(num_envs, np.float32)
        finished = np.zeros(num_envs, bool)
        reset_key, run_key = jax.random.split(key)
        obs = vec_env.reset(int(jax.random.randint(reset_key, (), 0, 2**30)))
        for t, step_key in enumerate(jax.random.split(run_key, steps)):
            executed, labels = jax.device_get(act(params, beta, step_key, obs))
            obs_rows[t], label_rows[t], valid[t] = obs, labels, ~finished
            out = vec_env.step(np.asarray(executed))
            ended = (out.terminated | out.truncated) & ~finished
            returns[ended] = out.episode_return[ended]
            finished |= ended
            obs = out.obs
            if finished.all():
                break
        return RoundData(obs_rows, label_rows, valid, returns)

    def init(seed_value: int) -> DAggerState:
        return dagger.init(jax.random.PRNGKey(seed_value), buffer)

    def step(state: DAggerState) -> tuple[DAggerState, dict[str, Any]]:
        bc_state, fit_metrics = fit(state.bc, state.buffer)
        key, eval_key, collect_key = jax.random.split(bc_state.key, 3)
        eval_return = np.nan if eval_env is None else \
            run_episodes(eval_env, learner, bc_state.params, jnp.zeros(()), eval_key).episode_return.mean()
        metrics = dagger.round_metrics(state, fit_metrics, jnp.asarray(eval_return, jnp.float32))
        buffer, beta, rollout_return = state.buffer, state.last_beta, state.last_rollout_return
        if int(state.round_index) < config.num_rounds:
            beta = beta_for_round(config, state.round_index)
            data = run_episodes(collect_env, mixture, bc_state.params, beta, collect_key)
            buffer = add(buffer, jnp.asarray(data.obs), jnp.asarray(data.labels), jnp.asarray(data.valid))
            rollout_return = jnp.asarray(data.episode_return.mean(), jnp.float32)
        return DAggerState(bc_state.replace(key=key), buffer, state.round_index + 1, beta, rollout_return), metrics

    return run_host(init, step, seed, config.num_rounds + 1, num_seeds=num_seeds,
                    target_chunks=config.num_rounds + 1, on_chunk=on_round, checkpoint=checkpoint)
