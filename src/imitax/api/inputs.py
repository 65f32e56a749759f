"""What `imitax.train` accepts, turned into what the algorithms take: environments, demonstrations,
DAgger's expert, MCE IRL's MDP and expert visitation. Bad input raises an `ImitaxError` naming it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from imitax.api.result import ReferenceScores
from imitax.data.minari_io import Demonstrations, load_demonstrations
from imitax.data.types import Trajectory, Transitions
from imitax.data.validate import validate_env_id, validate_trajectories
from imitax.envs import GYMNAX_IDS, make
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import Discrete, EnvSpec
from imitax.envs.tabular import GridworldConfig, RandomMDPConfig, TabularMDP
from imitax.errors import ConfigError, DatasetError

Env = JaxEnv | GymnasiumEnv


def resolve_env(env: Any, backend: str | None = None) -> Env:
    """An imitax env from an id ("CartPole-v1"; "module:EnvId" imports module first), a
    Gymnasium env instance or factory, or an imitax env (returned as it is).

    backend: "jax" or "gymnasium"; None picks JAX for the ids it has (`GYMNAX_IDS`), else Gymnasium.
    """
    if isinstance(env, (JaxEnv, GymnasiumEnv)):
        return env
    if isinstance(env, str):
        if backend is None:
            backend = "jax" if env in GYMNAX_IDS else "gymnasium"
        return make(env, backend=backend)
    if isinstance(env, gym.Env) or isinstance(env, type) and issubclass(env, gym.Env):
        return make(env)
    raise ConfigError(f"env is a {type(env).__name__}; expected an environment id such as 'CartPole-v1', an imitax "
                      "env (imitax.make(...)) or a gymnasium.Env")


def backend_of(env: Env) -> str:
    return "jax" if isinstance(env, JaxEnv) else "gymnasium"


@dataclasses.dataclass(frozen=True)
class ExpertData:
    """Demonstrations as the algorithms take them: transitions `[n, ...]`, their source (a
    dataset id, or what was passed) and the reference scores they carry."""

    transitions: Transitions
    source: str
    references: ReferenceScores
    trajectories: tuple[Trajectory, ...] | None = None
    """the episodes, when the demos came as episodes (a dataset or `Demonstrations`)"""


def resolve_demos(demos: Any, spec: EnvSpec) -> ExpertData:
    """Demonstrations for `spec` from a Minari dataset id or folder, `Demonstrations` or `Transitions`
    (an `ExpertData` this function made is returned as it is: it was checked then).

    Raises:
        DatasetError: a missing or malformed dataset, data of another environment, or transitions
            of the wrong shapes, dtypes or non-finite values.
    """
    if isinstance(demos, ExpertData):
        return demos
    if isinstance(demos, (str, Path)):
        demos = load_demonstrations(str(demos), spec=spec)  # validated against `spec` as it loads
    elif isinstance(demos, Demonstrations):
        validate_env_id(demos.spec.env_id if demos.spec is not None else None, spec, source=demos.dataset_id)
        validate_trajectories(demos.trajectories, spec, source=demos.dataset_id)
    if isinstance(demos, Demonstrations):
        return ExpertData(demos.transitions(), demos.dataset_id,
                          ReferenceScores.of(demos.random_score, demos.expert_reference), tuple(demos.trajectories))
    if isinstance(demos, Transitions):
        transitions = check_transitions(demos, spec)
        episodes = int(np.sum(np.asarray(transitions.terminated) | np.asarray(transitions.truncated)))
        expert = float(np.sum(np.asarray(transitions.rewards))) / episodes if episodes else None
        return ExpertData(transitions, "transitions", ReferenceScores(None, expert))
    raise DatasetError(f"demos is a {type(demos).__name__}; expected a Minari dataset id (e.g. 'cartpole/expert-v0'), "
                       "imitax Demonstrations (imitax.data.minari_io.load_demonstrations) or Transitions")


def check_transitions(transitions: Transitions, spec: EnvSpec) -> Transitions:
    """`transitions` as arrays of the dtypes and shapes `spec` asks for, `[n, ...]` with n >= 1.

    Raises:
        DatasetError: naming the field, what was expected and what was found.
    """
    fields = {name: np.asarray(getattr(transitions, name)) for name in
              ("obs", "actions", "rewards", "next_obs", "terminated", "truncated")}
    n = fields["rewards"].shape[0] if fields["rewards"].ndim == 1 else -1
    action_shape = () if isinstance(spec.action_space, Discrete) else spec.action_space.shape
    expected = {"obs": (n, spec.obs_dim), "next_obs": (n, spec.obs_dim), "actions": (n, *action_shape),
                "rewards": (n,), "terminated": (n,), "truncated": (n,)}
    for name, shape in expected.items():
        if n < 1 or fields[name].shape != shape:
            raise DatasetError(f"demos: Transitions.{name} has shape {fields[name].shape}; expected {_shape(shape)} for "
                               f"{spec.env_id} (obs_dim {spec.obs_dim}, {spec.action_space}), n >= 1 transitions")
    if isinstance(spec.action_space, Discrete):
        actions = fields["actions"]
        if actions.dtype.kind not in "iu" or actions.min() < 0 or actions.max() >= spec.action_space.n:
            raise DatasetError(f"demos: Transitions.actions must be integers in [0, {spec.action_space.n}) for "
                               f"{spec.action_space}; found dtype {actions.dtype}, range [{actions.min()}, {actions.max()}]")
    for name in ("obs", "next_obs", "rewards", *(() if isinstance(spec.action_space, Discrete) else ("actions",))):
        if not np.isfinite(fields[name].astype(np.float64)).all():
            raise DatasetError(f"demos: Transitions.{name} holds NaN or infinite values; expected finite numbers")
    dtypes = {"obs": np.float32, "next_obs": np.float32, "rewards": np.float32, "terminated": bool, "truncated": bool,
              "actions": spec.action_space.dtype}
    return Transitions(**{name: jnp.asarray(fields[name].astype(dtype)) for name, dtype in dtypes.items()})


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join("n" if size == -1 or index == 0 else str(size) for index, size in enumerate(shape)) + "]"


ExpertFn = Callable[[jax.Array, jnp.ndarray], jnp.ndarray]


def resolve_expert(expert: Any, spec: EnvSpec) -> ExpertFn:
    """DAgger's expert: a JAX-traceable `expert_fn(key, obs: f32[obs_dim]) -> action`, a run or
    checkpoint folder of an imitax policy, or a `TrainResult` (its seed 0 acts, deterministically)."""
    from imitax.api.result import TrainResult
    from imitax.io.expert_policy import load_expert

    if expert is None:
        raise ConfigError("dagger needs expert=...: a function expert_fn(key, obs) -> action, a run folder of an "
                          "imitax policy (e.g. from `imitax expert`) or a TrainResult")
    if isinstance(expert, (str, Path)):
        return load_expert(expert, spec)[0]
    if isinstance(expert, TrainResult):
        saved = expert.spec
        if saved is None or (saved.obs_dim, saved.action_space) != (spec.obs_dim, spec.action_space):
            raise ConfigError(f"expert is a {expert.method} result for {getattr(saved, 'env_id', 'a tabular MDP')}; "
                              f"expected a policy for {spec.env_id} (obs {spec.obs_dim}, {spec.action_space})")
        net, params = expert.policy_net, expert.policy_params[0]
        return lambda key, obs: net.act(params, key, obs, deterministic=True)
    if callable(expert):
        from imitax.algos.dagger import check_expert

        check_expert(expert, spec)
        return expert
    raise ConfigError(f"expert is a {type(expert).__name__}; expected a function expert_fn(key, obs) -> action, a run "
                      "folder or a TrainResult")


def resolve_mdp(env: Any) -> TabularMDP:
    """MCE IRL's MDP: a `TabularMDP`, a `GridworldConfig` or `RandomMDPConfig`, or "gridworld" /
    "random" for the command line's defaults."""
    if isinstance(env, TabularMDP):
        return env
    if isinstance(env, (GridworldConfig, RandomMDPConfig)):
        return env.build()
    if isinstance(env, str) and env in ("gridworld", "random"):
        return GridworldConfig().build() if env == "gridworld" else RandomMDPConfig().build()
    raise ConfigError(f"mce-irl takes a tabular MDP in place of env; got {type(env).__name__} {env!r}: expected a "
                      "TabularMDP (imitax.envs.tabular.gridworld(...)), a GridworldConfig / RandomMDPConfig, or "
                      "'gridworld' / 'random'")


def resolve_visitation(demos: Any, mdp: TabularMDP, discount: float) -> Any:
    """MCE IRL's expert state visitation f32[S] (or f32[num_seeds, S]): the optimal expert's exact
    one when `demos` is None, the empirical one of sampled `TabularDemos`, or an array given."""
    from imitax.algos.mce_irl import TabularDemos, empirical_visitation, expert_policy
    from imitax.rl.tabular import state_visitation

    if demos is None:
        return state_visitation(mdp, expert_policy(mdp), discount)
    if isinstance(demos, TabularDemos):
        return empirical_visitation(demos, mdp.num_states, discount)
    try:
        return np.asarray(demos, np.float32)
    except (TypeError, ValueError):
        raise DatasetError(f"mce-irl demos is a {type(demos).__name__}; expected None (the exact expert visitation), "
                           "TabularDemos (imitax.algos.mce_irl.sample_demonstrations) or a visitation f32[S]") from None
