"""The methods `imitax.train` runs: each one's config type, default config and how it calls its
`train_*` function (kept as they are; this only adapts arguments and results)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from imitax.api.reward import LearnedReward, TabularReward
from imitax.api.result import Trained
from imitax.rl.loop import seed_slice


@dataclasses.dataclass(frozen=True)
class Run:
    """What a method's runner gets. env: an imitax env (MCE IRL: a TabularMDP); demos:
    Transitions [n, ...] or None (MCE IRL: the expert visitation); expert: DAgger's expert_fn."""

    env: Any
    demos: Any
    expert: Any
    config: Any
    seed: int
    num_seeds: int


@dataclasses.dataclass(frozen=True)
class Method:
    """name: as on the command line; takes: "demos" (required), "expert" (DAgger: demos
    optional), "env" (RL: no demos) or "mdp" (MCE IRL); config_key: the config's key in a run
    folder's config.json."""

    name: str
    config_type: type
    default_config: Callable[[str], Any]
    takes: str
    config_key: str
    run: Callable[[Run], Trained]
    train_fn: Callable[..., Any] | None = None
    """methods trained from demos with traced rates: `train_*(env, expert, config, seed, num_seeds,
    on_chunk=..., hyperparams=...)`, which a sweep calls directly"""
    algorithm: type | None = None
    """their algorithm class (`cls(config, spec)`), whose `traced_fields` a sweep vmaps over"""


def _per_seed(stacked: Any, num_seeds: int) -> tuple[Any, ...]:
    return tuple(seed_slice(stacked, index) for index in range(num_seeds))


def _trained(net: Any, stacked_params: Any, run: Run, result: Any, reward: Any = None) -> Trained:
    return Trained(net, _per_seed(stacked_params, run.num_seeds), reward, {k: np.asarray(v) for k, v in result.history.items()},
                   float(result.compile_s), float(result.run_s))


def _run_bc(run: Run) -> Trained:
    from imitax.algos.bc import train_bc
    from imitax.envs.jax_env import JaxEnv

    result = train_bc(run.demos, run.env.spec, run.config, run.seed, run.num_seeds,
                      eval_env=run.env if isinstance(run.env, JaxEnv) else None)
    return _trained(result.bc.policy, result.params, run, result)


def _run_dagger(run: Run) -> Trained:
    from imitax.algos.dagger import train_dagger

    result = train_dagger(run.env, run.expert, run.config, run.seed, run.num_seeds, initial_demos=run.demos)
    return _trained(result.policy, result.params, run, result)


def _from_demos(train_fn: Callable[..., Any], reward_name: str | None) -> Callable[[Run], Trained]:
    """GAIL, AIRL, DAC, SQIL, IQ-Learn: `train_fn(env, demos, config, seed, num_seeds)`; the
    reward, where the method saves one, under the algorithm name `reward_name`."""

    def run_method(run: Run) -> Trained:
        result = train_fn(run.env, run.demos, run.config, run.seed, run.num_seeds)
        return trained_runs(result, run.env.spec, reward_name, range(run.num_seeds))

    return run_method


def trained_runs(result: Any, spec: Any, reward_name: str | None, runs: range, share: float = 1.0) -> Trained:
    """The runs `runs` (indices on the state's leading axis) of a `train_gail`-like result (an
    `algo` with `policy_params`, a `state`, a `history`) as one `Trained`; `share` of the
    result's timing is theirs (a sweep's points share one program)."""
    def pick(tree: Any) -> tuple[Any, ...]:
        return tuple(seed_slice(tree, index) for index in runs)

    params = jax.vmap(result.algo.policy_params)(result.state)
    reward = None
    if reward_name is not None and hasattr(result.algo, "saved_reward"):
        reward_params, meta = result.algo.saved_reward(result.state)
        reward = LearnedReward(reward_name, spec, meta, pick(reward_params))
    history = {k: np.asarray(v)[runs.start:runs.stop] for k, v in result.history.items()}
    return Trained(result.algo.policy, pick(params), reward, history, float(result.compile_s) * share,
                   float(result.run_s) * share)


def _run_ppo(run: Run) -> Trained:
    from imitax.rl.train import train_ppo

    result = train_ppo(run.env, run.config, run.seed, run.num_seeds)
    return _trained(result.ppo.policy, result.state.policy_params, run, result)


def _run_sac(run: Run) -> Trained:
    from imitax.rl.off_policy import train_sac

    result = train_sac(run.env, run.config, run.seed, run.num_seeds)
    return _trained(result.sac.policy, result.state.policy_params, run, result)


def _run_mce_irl(run: Run) -> Trained:
    from imitax.algos.mce_irl import train_mce_irl
    from imitax.api.result import TabularPolicyNet

    mdp = run.env
    result = train_mce_irl(mdp, run.demos, run.config, run.seed, run.num_seeds)
    reward = TabularReward(result.learned_reward, _per_seed(result.reward_params, run.num_seeds),
                           result.algo.reward_model.to_dict(), run.config.discount)
    net = TabularPolicyNet(mdp.num_states, mdp.num_actions, mdp.horizon)
    return Trained(net, tuple(result.optimal_policy), reward, {k: np.asarray(v) for k, v in result.history.items()},
                   float(result.compile_s), float(result.run_s))


def _from_demos_method(name: str, config_type: Any, config_key: str, train_fn: Callable[..., Any],
                       algorithm: type, reward_name: str | None) -> Method:
    return Method(name, config_type, config_type.for_env, "demos", config_key, _from_demos(train_fn, reward_name),
                  train_fn, algorithm)


def _methods() -> dict[str, Method]:
    from imitax.algos.airl import AIRL, AIRLConfig, train_airl
    from imitax.algos.bc import BCConfig
    from imitax.algos.dac import DAC, DACConfig, train_dac
    from imitax.algos.dagger import DAggerConfig
    from imitax.algos.gail import GAIL, GAILConfig, train_gail
    from imitax.algos.iq_learn import IQLearn, IQLearnConfig, train_iq_learn
    from imitax.algos.mce_irl import MCEIRLConfig
    from imitax.algos.sqil import SQIL, SQILConfig, train_sqil
    from imitax.rl.ppo import PPOConfig
    from imitax.rl.sac import SACConfig

    methods = [
        Method("bc", BCConfig, lambda env_id: BCConfig(), "demos", "bc", _run_bc),
        Method("dagger", DAggerConfig, lambda env_id: DAggerConfig(), "expert", "dagger", _run_dagger),
        _from_demos_method("gail", GAILConfig, "gail", train_gail, GAIL, "gail"),
        _from_demos_method("airl", AIRLConfig, "airl", train_airl, AIRL, "airl"),
        _from_demos_method("dac", DACConfig, "dac", train_dac, DAC, "dac"),
        _from_demos_method("sqil", SQILConfig, "sqil", train_sqil, SQIL, None),
        _from_demos_method("iq-learn", IQLearnConfig, "iq_learn", train_iq_learn, IQLearn, "iq-learn"),
        Method("ppo", PPOConfig, PPOConfig.for_env, "env", "ppo", _run_ppo),
        Method("sac", SACConfig, SACConfig.for_env, "env", "sac", _run_sac),
        Method("mce-irl", MCEIRLConfig, lambda env_id: MCEIRLConfig(), "mdp", "mce_irl", _run_mce_irl),
    ]
    return {method.name: method for method in methods}


METHOD_NAMES = ("bc", "dagger", "gail", "airl", "dac", "sqil", "iq-learn", "ppo", "sac", "mce-irl")


def method(name: str) -> Method:
    """The method called `name` (as on the command line; "iq_learn" is accepted for "iq-learn")."""
    from imitax.errors import ConfigError

    key = name.replace("_", "-") if isinstance(name, str) else name
    if key not in METHOD_NAMES:
        raise ConfigError(f"unknown method {name!r}; expected one of {', '.join(METHOD_NAMES)}")
    return _methods()[key]
