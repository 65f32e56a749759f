"""`imitax.collect`: record any Python policy on any environment into a Minari dataset.

The environment is the user's own as much as a built-in one: a Gymnasium id
("Pendulum-v1", or "module:EnvId-v0" to import the module that registers it, e.g. with a
class entry point), an env class or factory, an instance (optionally with a factory for
parallel copies), or an imitax env. The policy is any Python callable from observations
to actions (NumPy, a PD controller, a person at a keyboard): it is called on the host,
never traced, jitted or batched unless asked.

The dataset gets reference scores measured here (expert: the policy's mean return;
random: uniform random actions), refused unless the expert beats random by
`REFERENCE_MARGIN`, so normalised scores on it mean something.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from imitax.data.minari_io import check_new_dataset_id, save_demonstrations
from imitax.data.rollout import HostJaxEnv, record_episodes
from imitax.envs.gymnasium_env import GymnasiumEnv, copies_for
from imitax.envs.jax_env import JaxEnv
from imitax.envs.registry import make
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import ConfigError
from imitax.eval import REFERENCE_MARGIN, check_references

# policy(obs) -> action: one observation in the env's own shape, e.g. f32[obs_dim], to one
# action (an int for Discrete, an array of the Box's shape); batched: [n, ...] to [n, ...]
Policy = Callable[[np.ndarray], Any]
HostEnv = GymnasiumEnv | HostJaxEnv

MAX_PARALLEL = 16  # copies for batched policies and the random reference, when the env can make them


@dataclasses.dataclass(frozen=True)
class CollectResult:
    """What `collect` recorded and wrote.

    returns / lengths: f64[episodes] / i64[episodes], of the recorded episodes.
    expert_score / random_score: the reference scores stored in the dataset.
    """

    dataset_id: str
    path: pathlib.Path
    spec: EnvSpec
    returns: np.ndarray
    lengths: np.ndarray
    expert_score: float
    random_score: float

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id, "path": str(self.path), "env_id": self.spec.env_id,
                "episodes": int(self.returns.size), "transitions": int(self.lengths.sum()),
                "demo_mean_return": float(self.returns.mean()), "expert_score": self.expert_score,
                "random_score": self.random_score}


def collect(
    env: str | gym.Env | Callable[[], gym.Env] | GymnasiumEnv | JaxEnv,
    policy: Policy,
    episodes: int = 10,
    dataset_id: str | None = None,
    *,
    factory: Callable[[], gym.Env] | None = None,
    batched: bool = False,
    num_envs: int | None = None,
    reference_episodes: int = 100,
    seed: int = 0,
    overwrite: bool = False,
    allow_weak_expert: bool = False,
    algorithm_name: str | None = None,
    description: str | None = None,
) -> CollectResult:
    """Record `episodes` episodes of `policy` on `env` into the Minari dataset `dataset_id`.

    Args:
        env: a Gymnasium id ("module:EnvId-v0" imports `module` first), an env class or
            zero-argument factory, a `gymnasium.Env` instance, or an imitax env.
        policy: `policy(obs) -> action`, called on one observation at a time in the env's
            own observation shape (e.g. f32[6]), episodes one after another in one env copy,
            so a stateful controller or a person sees one episode at a time. It returns one
            action: an int in [0, n) for Discrete(n), an array of the action space's shape
            within its bounds for a Box. With `batched=True` it gets `obs: [num_envs, ...]`
            from parallel copies and returns `[num_envs, ...]` actions.
        episodes: episodes to record.
        dataset_id: `namespace/name-vN`; default `<env name>/expert-v0` (e.g. pointmass/expert-v0).
        factory: with an instance, a zero-argument function making more copies (batched
            recording and the random reference run on up to 16 copies; an instance alone
            runs them one after another).
        num_envs: parallel copies for a batched policy (default min(episodes, 16)).
        reference_episodes: episodes behind each reference score. The expert's is the mean
            return of the recorded episodes plus `reference_episodes - episodes` more of the
            policy (none more when `reference_episodes <= episodes`: a person records only
            the demonstrations); the random one's is `reference_episodes` episodes of
            uniformly random actions.
        overwrite: replace an existing dataset of that id.
        allow_weak_expert: save even when the expert does not beat random by
            `REFERENCE_MARGIN` (5% of the larger reference's magnitude); normalised scores
            on such a dataset are meaningless, or an error when expert <= random.

    Returns:
        A `CollectResult`: the dataset's id and folder, the recorded episodes' returns and
        lengths, and the reference scores, which `load_demonstrations` reads back.

    Raises:
        ConfigError: a policy that is not callable or returns an action of the wrong shape,
            type or outside the action space (raised at the first such step, before
            anything is written), bad counts, or an expert that does not beat random.
        UnknownEnvError, SpaceError: an env imitax cannot make or learn from.
        DatasetError, OutputError: a dataset id that is malformed or taken, an unwritable root.
    """
    if not callable(policy):
        raise ConfigError(f"policy must be a callable obs -> action, got {type(policy).__name__}")
    if episodes <= 0 or reference_episodes <= 0:
        raise ConfigError(f"episodes and reference_episodes must be > 0, got {episodes} and {reference_episodes}")
    if num_envs is not None and (num_envs <= 0 or not batched):
        raise ConfigError(f"num_envs={num_envs}: expected a count > 0, for batched=True only (an unbatched "
                          "policy sees one episode at a time)")
    host_env = as_host_env(env, factory)
    with contextlib.ExitStack() as made_here:  # the envs made here are closed after recording
        if not isinstance(env, gym.Env) and host_env is not env:  # a user's own instance stays open
            made_here.callback(host_env.close)
        spec = host_env.spec
        dataset_id = dataset_id or default_dataset_id(spec.env_id)
        check_new_dataset_id(dataset_id, overwrite=overwrite)  # before any episode is recorded
        recorder = host_env
        if batched:
            recorder = made_here.enter_context(copies_for(host_env, num_envs or min(episodes, MAX_PARALLEL),
                                                          or_itself=num_envs is None))
        host_act = policy_act(policy, recorder, batched)
        demos = record_episodes(recorder, host_act, episodes, seed)
        returns = np.asarray([float(np.sum(t.rewards, dtype=np.float64)) for t in demos])
        more = reference_episodes - episodes
        extra = record_episodes(recorder, host_act, more, seed + 1) if more > 0 else []
        expert_score = float(np.mean([*returns, *(float(np.sum(t.rewards, dtype=np.float64)) for t in extra)]))
        random_score = random_reference(host_env, reference_episodes, seed + 2)
    if not allow_weak_expert:
        try:
            check_references(random_score, expert_score, margin=REFERENCE_MARGIN)
        except ConfigError as error:
            raise ConfigError(f"{spec.env_id}: refusing to save {dataset_id!r}: {error}; pass allow_weak_expert=True "
                              "(--allow-weak-expert) to save it anyway") from None
    name = _name(policy)
    path = save_demonstrations(
        dataset_id, demos, spec, expert_score=expert_score, random_score=random_score,
        algorithm_name=algorithm_name or f"imitax-collect: {name}", overwrite=overwrite,
        description=description or f"{episodes} episodes of the policy {name} on {spec.env_id}, recorded by imitax.collect",
    )
    return CollectResult(dataset_id, path, spec, returns, np.asarray([len(t) for t in demos], np.int64),
                         expert_score, random_score)


def default_dataset_id(env_id: str) -> str:
    """`<env name>/expert-v0`: "CartPole-v1" -> "cartpole/expert-v0",
    "point_mass:imitax_test/PointMass-v0" -> "pointmass/expert-v0"."""
    name = env_id.rpartition(":")[2].rpartition("/")[2]
    return f"{name.split('-')[0].lower()}/expert-v0"


def as_host_env(env: Any, factory: Callable[[], gym.Env] | None = None) -> HostEnv:
    """One copy of `env` that a host loop steps (`reset(seed)`, `step(actions)`)."""
    if isinstance(env, JaxEnv):
        return HostJaxEnv(env)
    if isinstance(env, GymnasiumEnv):
        return env.with_num_envs(1)
    if isinstance(env, str):
        return make(env, backend="gymnasium")
    return make(env, factory=factory)


def random_reference(env: HostEnv, episodes: int, seed: int) -> float:
    """Mean return of `episodes` episodes of uniformly random actions, on up to 16 copies."""
    space = env.spec.action_space
    rng = np.random.default_rng(seed)

    def uniform(obs: np.ndarray) -> np.ndarray:
        if isinstance(space, Discrete):
            return rng.integers(0, space.n, obs.shape[0])
        return rng.uniform(space.low_array, space.high_array, (obs.shape[0], *space.shape)).astype(np.float32)

    with copies_for(env, min(episodes, MAX_PARALLEL), or_itself=True) as copies:
        trajectories = record_episodes(copies, uniform, episodes, seed)
    return float(np.mean([np.sum(t.rewards, dtype=np.float64) for t in trajectories]))


def policy_act(policy: Policy, env: HostEnv, batched: bool) -> Callable[[np.ndarray], np.ndarray]:
    """`policy` as the host loop calls it: `obs f32[num_envs, obs_dim] -> actions i32[num_envs]
    | f32[num_envs, action_dim]`, each action checked against the action space."""
    spec, name = env.spec, _name(policy)
    obs_shape = env.obs_shape
    native_action = env.action_shape
    step = 0

    def act(obs: np.ndarray) -> np.ndarray:
        nonlocal step
        native_obs = obs.reshape(obs.shape[0], *obs_shape)
        where = f"policy {name} at step {step}"
        if batched:
            actions = _batch(policy(native_obs), obs.shape[0], spec.action_space, native_action, where)
        else:
            actions = np.stack([_one(policy(row), spec.action_space, native_action, where) for row in native_obs])
        _check_in_space(actions, spec.action_space, where)
        step += 1
        return actions

    return act


def _one(action: Any, space: Discrete | Box, native_shape: tuple[int, ...], where: str) -> np.ndarray:
    """One action as the flat row the env adapter takes: i64[] or f32[action_dim]."""
    values = _numeric(action, space, where)
    if isinstance(space, Discrete):
        if values.size != 1:
            raise ConfigError(f"{where} returned an action of shape {values.shape}; expected one integer in "
                              f"[0, {space.n}) for Discrete({space.n})")
        return values.reshape(())
    if values.size != space.shape[0] or values.shape not in (native_shape, space.shape, (1, *native_shape), (1, *space.shape)):
        raise ConfigError(f"{where} returned an action of shape {values.shape}; expected shape {native_shape} "
                          f"for the action space {_describe(space, native_shape)}")
    return values.reshape(space.shape)


def _batch(actions: Any, num_envs: int, space: Discrete | Box, native_shape: tuple[int, ...], where: str) -> np.ndarray:
    values = _numeric(actions, space, where)
    row_shapes = ((), (1,)) if isinstance(space, Discrete) else (native_shape, space.shape)
    if values.ndim == 0 or values.shape[0] != num_envs or values.shape[1:] not in row_shapes:
        expected = (num_envs, *row_shapes[0]) if isinstance(space, Discrete) else (num_envs, *native_shape)
        raise ConfigError(f"{where} (batched) returned actions of shape {values.shape} for {num_envs} observations; "
                          f"expected shape {expected} for the action space {_describe(space, native_shape)}")
    return values.reshape(num_envs, *space.shape)


def _numeric(action: Any, space: Discrete | Box, where: str) -> np.ndarray:
    try:
        values = np.asarray(action)
    except (ValueError, TypeError) as error:  # ragged lists and the like
        raise ConfigError(f"{where} returned {action!r} ({error}); expected a number or array for {space}") from None
    if isinstance(space, Discrete):
        if values.dtype.kind in "iub":
            return values.astype(np.int64)
        if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return values.astype(np.int64)
        raise ConfigError(f"{where} returned {action!r} ({values.dtype}); expected an integer action in "
                          f"[0, {space.n}) for Discrete({space.n})")
    if values.dtype.kind not in "iuf":
        raise ConfigError(f"{where} returned {action!r} ({values.dtype}); expected a float array for {space}")
    return values.astype(np.float32)


def _check_in_space(actions: np.ndarray, space: Discrete | Box, where: str) -> None:
    if isinstance(space, Discrete):
        bad = (actions < 0) | (actions >= space.n)
        if bad.any():
            raise ConfigError(f"{where} returned action {int(actions[bad][0])}, outside the action space; "
                              f"expected an integer in [0, {space.n}) for Discrete({space.n})")
        return
    if not np.all(np.isfinite(actions)):
        raise ConfigError(f"{where} returned a non-finite action {actions[~np.all(np.isfinite(actions), axis=1)][0].tolist()}; "
                          "expected finite values")
    low, high = space.low_array, space.high_array
    slack = 1e-5 * (1.0 + np.maximum(np.abs(low), np.abs(high)))  # float rounding, not a policy's overshoot
    outside = (actions < low - slack) | (actions > high + slack)
    if outside.any():
        row = actions[np.any(outside, axis=1)][0]
        raise ConfigError(f"{where} returned action {row.tolist()}, outside the action space bounds "
                          f"low={low.tolist()}, high={high.tolist()}; expected actions within them "
                          "(clip in the policy, e.g. np.clip(action, low, high))")


def _describe(space: Discrete | Box, native_shape: tuple[int, ...]) -> str:
    if isinstance(space, Discrete):
        return f"Discrete({space.n})"
    return f"Box(low={list(space.low)}, high={list(space.high)}, shape={native_shape})"


def _name(policy: Any) -> str:
    module = getattr(policy, "__module__", None)
    qualname = getattr(policy, "__qualname__", None) or type(policy).__name__
    return f"{module}:{qualname}" if module else qualname
