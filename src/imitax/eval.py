"""Evaluation: episode returns of a policy, normalised scores, multi-seed statistics.

Normalised score: (return - random) / (expert - random), so a random policy scores 0
and the expert 1 (the dataset's reference scores define both). It is defined only when
the expert beats random; references that are equal or inverted are an error, and
recording refuses an expert that does not beat random by `REFERENCE_MARGIN`.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from imitax.data.rollout import episode_returns_jax
from imitax.envs.gymnasium_env import GymnasiumEnv, copies_for
from imitax.envs.jax_env import JaxEnv
from imitax.envs.spec import Discrete, EnvSpec
from imitax.errors import ConfigError
from imitax.nets.policy import Policy

# policy_fn(key, obs: f32[n, obs_dim]) -> actions [n, ...]; pure and jittable
PolicyFn = Callable[[jax.Array, jnp.ndarray], jnp.ndarray]


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """returns: f[num_episodes], one complete episode per entry."""

    returns: np.ndarray
    lengths: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    def to_dict(self) -> dict[str, Any]:
        return {"mean_return": self.mean, "std_return": self.std, "num_episodes": int(self.returns.size),
                "mean_length": float(np.mean(self.lengths))}


# the expert must beat random by this fraction of the larger reference's magnitude
REFERENCE_MARGIN = 0.05


def normalized_score(episode_return: float | np.ndarray, random_score: float, expert_score: float) -> float | np.ndarray:
    """0 for the random policy's mean return, 1 for the expert's.

    Raises:
        ConfigError: the references are not finite, or the expert's is not above the random one's.
    """
    check_references(random_score, expert_score)
    return (episode_return - random_score) / (expert_score - random_score)


def check_references(random_score: float, expert_score: float, *, margin: float = 0.0) -> None:
    """Raise ConfigError unless `expert_score - random_score > margin * max(|expert|, |random|)`
    (and > 0): with `margin=0` the normalised score is defined; recording asks for
    `REFERENCE_MARGIN`, so that one unit of normalised score means a real difference."""
    for name, value in (("expert", expert_score), ("random", random_score)):
        if not np.isfinite(value):
            raise ConfigError(f"the {name} reference score is {value}; expected a finite mean return")
    expert_score, random_score = float(expert_score), float(random_score)
    gap = margin * max(abs(expert_score), abs(random_score))
    if expert_score - random_score > gap and expert_score > random_score:
        return
    if expert_score <= random_score:
        problem = f"expert reference {expert_score} is not above the random reference {random_score}"
    else:
        problem = (f"expert reference {expert_score} beats the random reference {random_score} by only "
                   f"{expert_score - random_score:.4g}")
    needed = f"by more than {margin:.0%} of the larger magnitude ({gap:.4g})" if margin > 0 else "(expert > random)"
    raise ConfigError(f"{problem}: the normalised score (random = 0, expert = 1) is undefined or meaningless; "
                      f"expected an expert that beats a uniformly random policy {needed}")


def evaluate(env: JaxEnv | GymnasiumEnv, policy_fn: PolicyFn, key: jax.Array, num_episodes: int = 100) -> EvalResult:
    """Run `num_episodes` complete episodes, one per parallel environment."""
    if isinstance(env, JaxEnv):
        returns, lengths = _evaluate_jax(env, policy_fn, key, num_episodes)
    else:
        returns, lengths = _evaluate_host(env, jax.jit(policy_fn), key, num_episodes)
    return EvalResult(np.asarray(returns), np.asarray(lengths))


def evaluate_policy(env: JaxEnv | GymnasiumEnv, policy: Policy, params: Any, key: jax.Array, num_episodes: int = 100,
                    deterministic: bool = True) -> EvalResult:
    """`evaluate` for a `Policy` and its params; on JAX envs the program is compiled once per
    (env, policy, num_episodes), not once per params (e.g. per seed)."""
    if isinstance(env, JaxEnv):
        returns, lengths = _policy_returns_jax(env, policy, params, key, num_episodes, deterministic)
        return EvalResult(np.asarray(returns), np.asarray(lengths))
    return evaluate(env, lambda k, o: policy.act(params, k, o, deterministic), key, num_episodes)


@partial(jax.jit, static_argnums=(0, 1, 4, 5))
def _policy_returns_jax(env: JaxEnv, policy: Policy, params: Any, key: jax.Array, num_episodes: int,
                        deterministic: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
    return episode_returns_jax(env, lambda k, o: policy.act(params, k, o, deterministic), key, num_episodes)


def _evaluate_jax(env: JaxEnv, policy_fn: PolicyFn, key: jax.Array, num_episodes: int) -> tuple[Any, Any]:
    return jax.jit(episode_returns_jax, static_argnums=(0, 1, 3))(env, policy_fn, key, num_episodes)


def _evaluate_host(env: GymnasiumEnv, policy_fn: PolicyFn, key: jax.Array, num_episodes: int) -> tuple[Any, Any]:
    """One episode per parallel copy; an unregistered instance (one copy) runs them in turn."""
    with copies_for(env, num_episodes, or_itself=True) as vec:
        return _run_episodes(vec, policy_fn, key, num_episodes)


def _run_episodes(vec: GymnasiumEnv, policy_fn: PolicyFn, key: jax.Array, num_episodes: int) -> tuple[Any, Any]:
    """(returns f[num_episodes], lengths i[num_episodes]): one episode per copy of `vec` when it has
    `num_episodes` copies, else the first episodes its copies finish."""
    obs = vec.reset(seed=int(jax.random.randint(key, (), 0, 2**30)))
    one_each = vec.num_envs == num_episodes
    returns: list[float] = []
    lengths: list[int] = []
    finished = np.zeros(vec.num_envs, bool)
    max_steps = vec.spec.max_episode_steps * (1 if one_each else num_episodes)
    for step_key in jax.random.split(key, max_steps):
        out = vec.step(np.asarray(policy_fn(step_key, obs)))
        ended = (out.terminated | out.truncated) & (~finished if one_each else True)
        returns.extend(out.episode_return[ended].tolist())
        lengths.extend(out.episode_length[ended].tolist())
        finished |= ended
        obs = out.obs
        if len(returns) >= num_episodes:
            break
    return np.asarray(returns[:num_episodes]), np.asarray(lengths[:num_episodes])


def random_policy(spec: EnvSpec) -> PolicyFn:
    """Uniform actions over the action space."""
    space = spec.action_space

    def act(key: jax.Array, obs: jnp.ndarray) -> jnp.ndarray:
        n = obs.shape[0]
        if isinstance(space, Discrete):
            return jax.random.randint(key, (n,), 0, space.n)
        return jax.random.uniform(key, (n, *space.shape), minval=jnp.asarray(space.low), maxval=jnp.asarray(space.high))

    return act


@dataclasses.dataclass(frozen=True)
class SeedStats:
    """Statistics over independent seeds; `ci95` is a bootstrap interval of the mean."""

    values: tuple[float, ...]
    mean: float
    std: float
    ci95: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "mean": self.mean, "std": self.std, "ci95": list(self.ci95)}


def seed_statistics(values: Sequence[float], seed: int = 0) -> SeedStats:
    """Mean, std and a 95% percentile-bootstrap interval of the mean over seeds."""
    data = np.asarray(values, np.float64)
    if data.size < 2:
        return SeedStats(tuple(data.tolist()), float(data.mean()), 0.0, (float(data.mean()), float(data.mean())))
    low, high = percentile_bootstrap(data, _mean, seed)
    return SeedStats(tuple(data.tolist()), float(data.mean()), float(data.std(ddof=1)), (low, high))


def interquartile_mean(values: Sequence[float]) -> float:
    """The mean of the middle 50% of `values`: 25% trimmed from each end, as rliable's IQM (with
    fewer than 4 values nothing is trimmed: the mean)."""
    data = np.asarray(values, np.float64)
    return float(_interquartile_mean(data)) if data.size >= 2 else float(data.mean())


def iqm_statistics(values: Sequence[float], seed: int = 0) -> tuple[float, tuple[float, float]]:
    """(IQM over seeds, its 95% percentile-bootstrap interval); one value gives a point interval."""
    data = np.asarray(values, np.float64)
    iqm = interquartile_mean(data)
    if data.size < 2 or np.ptp(data) == 0:
        return iqm, (iqm, iqm)
    return iqm, percentile_bootstrap(data, _interquartile_mean, seed)


# The bootstrap and trimmed mean of scipy.stats (`bootstrap(..., method="percentile")` with a
# Generator, `trim_mean`), the same numbers from the same seed (tested against scipy), in NumPy:
# importing scipy.stats took 2.2 s, the first evaluation's cost in every process.
BOOTSTRAP_RESAMPLES = 2000


def percentile_bootstrap(data: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], seed: int = 0,
                         confidence: float = 0.95) -> tuple[float, float]:
    """The `confidence` percentile-bootstrap interval of `statistic` over `data` (f64[n]): the
    statistic of 2,000 resamples drawn with replacement (`statistic` maps f64[r, n] to f64[r]),
    its (1 - confidence) / 2 and (1 + confidence) / 2 quantiles (linear interpolation). NaN in
    `data` gives NaN bounds."""
    rows = np.random.default_rng(seed).integers(0, data.shape[-1], (BOOTSTRAP_RESAMPLES, data.shape[-1]))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(statistic(data[rows]), [alpha, 1 - alpha])
    return float(low), float(high)


def _mean(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=-1)


def _interquartile_mean(samples: np.ndarray) -> np.ndarray:
    """The mean of each row's middle values (f64[..., n] -> f64[...]): int(n / 4) cut from each
    end; NaN where a row holds NaN (sorting would move it to the end and cut it)."""
    cut = int(0.25 * samples.shape[-1])
    middle = np.sort(samples, axis=-1)[..., cut:samples.shape[-1] - cut].mean(axis=-1)
    return np.where(np.isnan(samples).any(axis=-1), np.nan, middle)
