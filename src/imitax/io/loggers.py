"""Metric loggers beside a run folder's metrics.csv/metrics.jsonl: TensorBoard and Weights & Biases.

A training command given `--log tensorboard wandb` sends every metric row it writes to the
metrics files to these loggers too, under the same names, with the row's step (env steps,
gradient steps, rounds) as the x axis, and logs the run's resolved config (its config.json)
as hyperparameters:

    loggers = open_loggers(("tensorboard",), run_dir, config, first_step=None)
    for logger in loggers:
        logger.log({"env_steps": 4096, "episode_return": 21.5}, step=4096)
    close_loggers(loggers)

Each backend lives in its own module and is imported only when asked for; wandb is an
optional extra (`pip install 'imitax[wandb]'`).
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from imitax.errors import ConfigError

LoggerName = Literal["tensorboard", "wandb"]
LOGGERS: tuple[LoggerName, ...] = ("tensorboard", "wandb")
# The import name of each backend's package, and how to install it.
_PACKAGES = {"tensorboard": ("tensorboardX", "pip install tensorboardX"),
             "wandb": ("wandb", "pip install 'imitax[wandb]'")}

HyperValue = bool | int | float | str


class Logger(Protocol):
    """Where metric rows go besides the metrics files."""

    def log(self, metrics: dict[str, float | None], step: int) -> None:
        """Record one row (metric name -> number; None or NaN where a metric has no value) at `step`."""

    def close(self) -> None:
        """Flush and finish; safe to call twice."""


def check_available(names: Sequence[str]) -> None:
    """Raise ConfigError (before anything is written) when a logger's package is not installed."""
    for name in names:
        package, install = _PACKAGES[name]
        if importlib.util.find_spec(package) is None:
            raise ConfigError(f"--log {name} needs the {package} package, which is not installed; "
                              f"expected it installed ({install})")


def open_loggers(names: Sequence[str], run_dir: Path, config: dict[str, Any], first_step: int | None) -> list[Logger]:
    """One logger per name, each writing under `run_dir` (tensorboard/, wandb/). `config` is
    the run's resolved config (config.json as a dict). `first_step` is None for a new run;
    on `--resume`, the step from which rows are logged again (after the rows kept): a
    backend that can drops what the killed attempt logged from there on."""
    loggers: list[Logger] = []
    try:
        for name in dict.fromkeys(names):  # `--log wandb wandb` opens one
            if name == "tensorboard":
                from imitax.io.tensorboard_logger import TensorBoardLogger
                loggers.append(TensorBoardLogger(run_dir, config, purge_step=first_step))
            elif name == "wandb":
                from imitax.io.wandb_logger import WandbLogger
                loggers.append(WandbLogger(run_dir, config, resumed=first_step is not None))
            else:
                raise ConfigError(f"unknown logger {name!r}; expected one of {', '.join(LOGGERS)}")
    except BaseException:
        close_loggers(loggers)
        raise
    return loggers


def close_loggers(loggers: Sequence[Logger]) -> None:
    for logger in loggers:
        logger.close()


def flat_hyperparameters(config: dict[str, Any], prefix: str = "") -> dict[str, HyperValue]:
    """`config` with nested objects flattened to dotted keys ("bc.learning_rate") and every
    value a bool, int, float or str (lists and None as their JSON text), as TensorBoard's
    hyperparameter table takes them."""
    flat: dict[str, HyperValue] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_hyperparameters(value, prefix=f"{name}."))
        elif isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
            flat[name] = value
        else:
            flat[name] = json.dumps(value)
    return flat


def finite_metrics(metrics: dict[str, float | None]) -> dict[str, float]:
    """The metrics that have a value (None and NaN dropped: a chunk that finished no episode)."""
    return {name: float(value) for name, value in metrics.items()
            if value is not None and math.isfinite(float(value))}
