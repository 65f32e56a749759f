"""What every command shares: options, environments, run folders, policy evaluation."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np

from imitax.envs import make
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.errors import ConfigError
from imitax.eval import EvalResult, evaluate, evaluate_policy, normalized_score, random_policy
from imitax.io.atomic import atomic_write_json
from imitax.io.plots import plot_learning_curve
from imitax.io.run_dir import make_run_dir, write_config, write_summary
from imitax.nets.policy import Policy
from imitax.rl.loop import seed_slice

Backend = Literal["jax", "gymnasium"]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Options every training command takes."""

    seed: int = 0
    """random seed (runs with the same seed and config give the same numbers)"""
    backend: Backend = "jax"
    """jax: gymnax env, whole loop compiled; gymnasium: any Gymnasium env, host loop"""
    eval_episodes: int = 100
    """episodes for the final evaluation"""
    runs_dir: Path = Path("runs")
    """where run folders are created"""
    name: str | None = None
    """run folder name (default: <command>-<env>-<time>)"""
    json: bool = False
    """print the result as one JSON object on the last stdout line"""
    progress: bool = True
    """show a progress bar on stderr"""

    def validate(self) -> RunOptions:
        """Raise ConfigError on a value no run can use (checked before any run folder exists)."""
        if self.eval_episodes <= 0:
            raise ConfigError(f"--eval-episodes must be > 0, got {self.eval_episodes}")
        if self.name is not None and (self.name in ("", ".", "..") or Path(self.name).name != self.name):
            raise ConfigError(f"--name {self.name!r} is not a folder name; expected one name without '/', "
                              f"created under --runs-dir {self.runs_dir}")
        return self


def validate_all(config: Any) -> None:
    """Call `validate()` on `config` and on every dataclass nested in it, innermost first
    (a `validate` that needs arguments is left to its command)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return
    for field in dataclasses.fields(config):
        validate_all(getattr(config, field.name))
    validate = getattr(config, "validate", None)
    if callable(validate) and _takes_no_arguments(validate):
        validate()


def _takes_no_arguments(function: Any) -> bool:
    try:
        inspect.signature(function).bind()
    except (TypeError, ValueError):
        return False
    return True


def make_env(env_id: str, backend: Backend) -> JaxEnv | GymnasiumEnv:
    return make(env_id, backend=backend)


def start_run(options: RunOptions, prefix: str, env_id: str, config: Any) -> Path:
    """A new run folder holding config.json. Under `discard_failed_runs` (the CLI), an
    ImitaxError later in the command removes it again unless it holds saved state."""
    validate_all(config)
    run_dir = make_run_dir(options.runs_dir, options.name, prefix=f"{prefix}-{env_id}")
    write_config(run_dir, config)
    return run_dir


def evaluate_seeds(env: JaxEnv | GymnasiumEnv, policy: Policy, stacked_params: Any, num_seeds: int,
                   episodes: int, seed: int) -> list[EvalResult]:
    """Deterministic evaluation of each seed's policy (params with a leading [num_seeds] axis)."""
    return [evaluate_policy(env, policy, seed_slice(stacked_params, index), jax.random.PRNGKey(seed + 10_000 + index), episodes)
            for index in range(num_seeds)]


def with_seed_axis(params: Any) -> Any:
    """One run's params with a leading [num_seeds = 1] axis, as `evaluate_seeds` takes them."""
    return jax.tree.map(lambda x: x[None], params)


def random_return(env: JaxEnv | GymnasiumEnv, episodes: int, seed: int) -> float:
    return evaluate(env, random_policy(env.spec), jax.random.PRNGKey(seed + 20_000), episodes).mean


def score_table(results: list[EvalResult], random_score: float, expert_score: float) -> dict[str, Any]:
    """Per-seed and mean returns and normalised scores."""
    returns = [r.mean for r in results]
    scores = [float(normalized_score(x, random_score, expert_score)) for x in returns]
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.mean([r.std for r in results])),
        "normalized_score": float(np.mean(scores)),
        "seed_returns": returns,
        "seed_normalized_scores": scores,
        "reference": {"random": random_score, "expert": expert_score},
    }


def finish_run(run_dir: Path, title: str, rows: list[dict[str, Any]], x: str, ys: list[str],
               result: dict[str, Any], hlines: dict[str, float] | None = None) -> None:
    """Write result.json, the learning curve and summary.md."""
    result = {**result, "run_dir": str(run_dir)}
    atomic_write_json(run_dir / "result.json", result)
    present = [y for y in ys if rows and y in rows[0]]
    if rows and present:
        plot_learning_curve(run_dir / "curve.png", rows, x=x, ys=present, title=title, hlines=hlines)
    headline = {k: v for k, v in result.items() if not isinstance(v, (dict, list))}
    sections: dict[str, Any] = {"Result": headline}
    if "reference" in result:
        sections["Reference scores"] = result["reference"]
    if "seed_returns" in result:
        sections["Per seed"] = [
            {"seed": i, "return": round(r, 2), "normalized": round(s, 3)}
            for i, (r, s) in enumerate(zip(result["seed_returns"], result.get("seed_normalized_scores", result["seed_returns"])))
        ]
    sections["Files"] = "config.json, metrics.csv, metrics.jsonl, checkpoint/, curve.png, result.json"
    write_summary(run_dir, title, sections)


def emit(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """Print a human summary, or the result as one JSON line (last line of stdout)."""
    if as_json:
        print(json.dumps(result, default=float))
    else:
        for line in lines:
            print(line)
