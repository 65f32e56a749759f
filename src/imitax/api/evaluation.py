"""`TrainResult.evaluate`: per-seed returns and normalised scores, IQM and a bootstrap CI over seeds."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import jax
import numpy as np

from imitax.api.inputs import resolve_env
from imitax.api.result import ReferenceScores, TabularPolicyNet, TrainResult
from imitax.errors import ConfigError
from imitax.eval import evaluate, evaluate_policy, iqm_statistics, normalized_score, random_policy, seed_statistics


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """How every seed's policy does.

    Attributes:
        returns: f64[num_seeds, episodes], one complete episode per entry (MCE IRL: the exact
            expected return, one entry per seed).
        mean_returns: f64[num_seeds].
        normalized_scores: f64[num_seeds] (random = 0, expert = 1), or None without references
            (or with an expert reference not above the random one: a warning says so).
        metric: "normalized_score", or "return" when there are no references.
        iqm: the interquartile mean over seeds of `metric`; ci95 its 95% percentile-bootstrap interval.
        mean, std: over seeds of `metric`.
        references: the random and expert mean returns used.
    """

    returns: np.ndarray
    mean_returns: np.ndarray
    normalized_scores: np.ndarray | None
    metric: str
    iqm: float
    ci95: tuple[float, float]
    mean: float
    std: float
    references: ReferenceScores

    @property
    def num_seeds(self) -> int:
        return int(self.mean_returns.shape[0])

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "iqm": self.iqm, "ci95": list(self.ci95), "mean": self.mean, "std": self.std,
                "seed_returns": self.mean_returns.tolist(),
                "seed_normalized_scores": None if self.normalized_scores is None else self.normalized_scores.tolist(),
                "episodes": int(self.returns.shape[1]), "reference": self.references.to_dict()}

    def __str__(self) -> str:
        name = "normalised score" if self.metric == "normalized_score" else "return"
        values = self.normalized_scores if self.normalized_scores is not None else self.mean_returns
        seeds = ", ".join(f"{value:.3g}" for value in values)
        return (f"{name}: IQM {self.iqm:.3g} (95% CI {self.ci95[0]:.3g} to {self.ci95[1]:.3g}) over {self.num_seeds} "
                f"seed{'s' if self.num_seeds != 1 else ''} [per seed: {seeds}]; mean return "
                f"{float(np.mean(self.mean_returns)):.4g}")


def evaluate_result(result: TrainResult, env: Any, episodes: int, seed: int, deterministic: bool,
                    references: tuple[float, float] | None) -> Evaluation:
    """See `TrainResult.evaluate`."""
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ConfigError(f"episodes must be an integer >= 1, got {episodes!r}")
    if isinstance(result.policy_net, TabularPolicyNet):
        returns, known = _exact_returns(result, env)
    else:
        env = _environment(result, env)
        returns = np.stack([
            evaluate_policy(env, result.policy_net, params, jax.random.PRNGKey(seed + 10_000 + index), int(episodes),
                            deterministic).returns
            for index, params in enumerate(result.policy_params)])
        known = result.references
    if references is not None:
        known = ReferenceScores.of(*references)
    if known.expert is not None and known.random is None and not isinstance(result.policy_net, TabularPolicyNet):
        random = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(seed + 20_000), int(episodes)).mean
        known = dataclasses.replace(known, random=random)
    return summarize(returns, known, seed)


def summarize(returns: np.ndarray, references: ReferenceScores, seed: int = 0) -> Evaluation:
    """An `Evaluation` of returns f[num_seeds, episodes]."""
    returns = np.asarray(returns, np.float64)
    mean_returns = returns.mean(axis=1)
    scores = None
    if references.random is not None and references.expert is not None:
        try:
            scores = np.asarray(normalized_score(mean_returns, references.random, references.expert), np.float64)
        except ConfigError as error:  # an expert no better than random: the returns still tell something
            warnings.warn(f"{error}; reporting returns only (pass references=(random, expert) to normalise)",
                          stacklevel=4)
    values = mean_returns if scores is None else scores
    iqm, ci95 = iqm_statistics(values, seed)
    stats = seed_statistics(values, seed)
    return Evaluation(returns, mean_returns, scores, "return" if scores is None else "normalized_score", iqm, ci95,
                      stats.mean, stats.std, references)


def _environment(result: TrainResult, env: Any) -> Any:
    """The env to evaluate on: given, the one trained on, or made again from the spec."""
    spec = result.spec
    if env is None:
        env = result.env if result.env is not None else spec.env_id
        backend = result.backend if result.env is None else None
    else:
        backend = None
    env = resolve_env(env, backend)
    if (env.spec.obs_dim, env.spec.action_space) != (spec.obs_dim, spec.action_space):
        raise ConfigError(f"cannot evaluate a policy for {spec.env_id} (obs {spec.obs_dim}, {spec.action_space}) on "
                          f"{env.spec.env_id} (obs {env.spec.obs_dim}, {env.spec.action_space}); expected the same spaces")
    return env


def _exact_returns(result: TrainResult, mdp: Any) -> tuple[np.ndarray, ReferenceScores]:
    """MCE IRL: each seed's exact expected true return, f[num_seeds, 1], on the training MDP or
    on `mdp` (same states), where the policy is re-solved under the learned reward."""
    from imitax.algos.mce_irl import References, expert_policy
    from imitax.api.inputs import resolve_mdp
    from imitax.rl.tabular import expected_return, value_iteration

    if mdp is None:
        mdp, tables, references = result.env, result.policy_params, result.references
    else:
        mdp = resolve_mdp(mdp)
        if mdp.num_states != result.policy_net.num_states:
            raise ConfigError(f"the reward was learned on {result.policy_net.num_states} states; expected an MDP with "
                              f"as many, got {mdp.num_states}")
        discount = result.reward.discount
        tables = [value_iteration(mdp, result.reward.table[index], discount)[0] for index in range(result.num_seeds)]
        exact = References.of(mdp, expert_policy(mdp))
        references = ReferenceScores(exact.random_return, exact.expert_return)
    returns = [[float(expected_return(mdp, table, mdp.true_reward))] for table in tables]
    return np.asarray(returns), references
