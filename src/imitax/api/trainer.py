"""`imitax.train(method, env, demos, config=..., seed=..., num_seeds=...)`: one call for every method.

One function, with the method named as on the command line (`imitax train gail` is
`imitax.train("gail", ...)`), rather than one wrapper per method: the call shape is then the
same by construction, and `algos.*.train_*` keep their own signatures for code that needs
them. Every method returns the same `TrainResult`.

    result = imitax.train("gail", "CartPole-v1", demos="cartpole/expert-v0", num_seeds=4)
    result = imitax.train("dagger", "CartPole-v1", expert="runs/expert-CartPole-v1-<time>")
    result = imitax.train("ppo", "Pendulum-v1")                        # no demos
    result = imitax.train("mce-irl", gridworld(size=(5, 5)))           # a tabular MDP for env
"""

from __future__ import annotations

import warnings
from typing import Any

from imitax.algos.gail import episode_context
from imitax.api.inputs import backend_of, resolve_demos, resolve_env, resolve_expert, resolve_mdp, resolve_visitation
from imitax.api.methods import Run, method
from imitax.api.result import ReferenceScores, TrainResult
from imitax.data.episode_context import context_warning
from imitax.errors import ConfigError, require_seed


def train(method_name: str, env: Any, demos: Any = None, *, config: Any = None, seed: int = 0, num_seeds: int = 1,
          expert: Any = None, backend: str | None = None) -> TrainResult:
    """Train `method_name` on `env` from `demos`; `num_seeds` independent runs (vmapped on JAX envs).

    Args:
        method_name: "bc", "dagger", "gail", "airl", "dac", "sqil", "iq-learn", "ppo", "sac" or "mce-irl".
        env: an env id ("CartPole-v1", "Hopper-v5", "module:MyEnv-v0"), an imitax env
            (`imitax.make(...)`) or a `gymnasium.Env`. MCE IRL: a `TabularMDP` (or a
            `GridworldConfig` / `RandomMDPConfig`, or "gridworld" / "random").
        demos: a Minari dataset id or folder, `Demonstrations` or `Transitions` `[n, ...]`.
            Required by bc, gail, airl, dac, sqil, iq-learn; DAgger's initial demonstrations
            (optional); none for ppo and sac. MCE IRL: None (the expert's exact state visitation),
            `TabularDemos` or a visitation f32[S].
        config: the method's config (`GAILConfig`, `BCConfig`, ...); default: its defaults
            for the env (`Config.for_env(env_id)`, what `imitax train` uses).
        seed: the seed of the first run (an int in [0, 2**32)).
        num_seeds: independent runs.
        expert: DAgger only: `expert_fn(key, obs: f32[obs_dim]) -> action` (JAX-traceable), a run
            or checkpoint folder of an imitax policy, or a `TrainResult`.
        backend: "jax" or "gymnasium" for an env id; default: JAX where imitax has the env
            (CartPole-v1, Pendulum-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0).

    Raises:
        ImitaxError: an unknown method or env, demos that are missing, malformed or of another
            env, a config of another method or with a bad value, a bad seed.
    """
    spec_method = method(method_name)
    require_seed(seed, "seed")
    check_num_seeds(num_seeds)
    if expert is not None and spec_method.takes != "expert":
        raise ConfigError(f"{spec_method.name} takes no expert (only dagger does); got expert={expert!r}")
    if spec_method.takes == "mdp":
        return _train_tabular(spec_method, env, demos, config, seed, num_seeds)
    env = resolve_env(env, backend)
    config = validated_config(spec_method, config, env.spec.env_id)
    references = ReferenceScores()
    transitions = None
    if spec_method.takes == "env" and demos is not None:
        raise ConfigError(f"{spec_method.name} learns from the environment's reward and takes no demos; "
                          "expected demos=None (for a learned reward, train_ppo(reward_fn=result.reward))")
    if spec_method.takes == "demos" and demos is None:
        raise ConfigError(f"{spec_method.name} needs demos=...: a Minari dataset id, Demonstrations or Transitions")
    if demos is not None:
        data = resolve_demos(demos, env.spec)
        transitions, references = data.transitions, data.references
        config = with_episode_context(spec_method.name, config, env, data, seed, stacklevel=3)
    expert_fn = None
    if spec_method.takes == "expert":
        expert_fn = resolve_expert(expert, env.spec)
        references = ReferenceScores(None, _expert_return(env, expert_fn, seed))
    trained = spec_method.run(Run(env, transitions, expert_fn, config, seed, num_seeds))
    return TrainResult(**trained.fields(), method=spec_method.name, config=config, seed=seed, references=references,
                       env=env, backend=backend_of(env))


def with_episode_context(method_name: str, config: Any, env: Any, data: Any, seed: int, stacklevel: int = 2) -> Any:
    """`config` with per-episode context in the demonstrations `data` resolved (GAIL, DAC and
    AIRL hide it from the discriminator by default), so the result's config records it; a
    warning names the features found."""
    if method_name == "bc" or data.trajectories is None:
        return config
    config, context, hidden = episode_context(config, env, data.trajectories, seed)
    if context:
        hide = "disc_ignore_obs" if method_name in ("gail", "dac", "airl") else None
        warning = context_warning(context, len(data.trajectories), hide, hidden=hidden)
        warnings.warn(f"{method_name}: {warning}", UserWarning, stacklevel=stacklevel + 1)
    return config


def check_num_seeds(num_seeds: Any) -> None:
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ConfigError(f"num_seeds must be an integer >= 1, got {num_seeds!r}")


def validated_config(spec_method: Any, config: Any, env_id: str) -> Any:
    """`config`, checked (types, finite numbers, ranges), or the method's default for the env."""
    from imitax.commands.common import validate_all

    if config is None:
        config = spec_method.default_config(env_id)
    if not isinstance(config, spec_method.config_type):
        raise ConfigError(f"config is a {type(config).__name__}; {spec_method.name} takes a "
                          f"{spec_method.config_type.__name__} (e.g. {spec_method.config_type.__name__}.for_env(...) "
                          "or dataclasses.replace of one)")
    validate_all(config)
    return config


def _expert_return(env: Any, expert_fn: Any, seed: int, episodes: int = 100) -> float:
    """DAgger's expert reference: its mean return over `episodes` (as `imitax train dagger` measures it)."""
    import jax

    from imitax.eval import evaluate

    def batched_expert(key: jax.Array, obs: Any) -> Any:
        return jax.vmap(expert_fn)(jax.random.split(key, obs.shape[0]), obs)

    return evaluate(env, batched_expert, jax.random.PRNGKey(seed + 30_000), episodes).mean


def _train_tabular(spec_method: Any, env: Any, demos: Any, config: Any, seed: int, num_seeds: int) -> TrainResult:
    """MCE IRL: the MDP in place of an env, the expert visitation in place of demos."""
    from imitax.algos.mce_irl import References, expert_policy

    mdp = resolve_mdp(env)
    config = validated_config(spec_method, config, "tabular")
    visitation = resolve_visitation(demos, mdp, config.discount)
    trained = spec_method.run(Run(mdp, visitation, None, config, seed, num_seeds))
    exact = References.of(mdp, expert_policy(mdp))
    return TrainResult(**trained.fields(), method=spec_method.name, config=config, seed=seed,
                       references=ReferenceScores(exact.random_return, exact.expert_return), env=mdp, backend="tabular")
