"""`imitax plot RUN... [--metric M]`: learning curves of several runs overlaid, and their final scores.

Each RUN argument is one curve. A run folder (`imitax train ...`, `imitax expert`, or
`TrainResult.save`) contributes its seeds; a folder of run folders (several `--seed`s of one
setting, or a sweep's points) pools them as the seeds of one curve. At each x the curve is the
interquartile mean over seeds with its 95% bootstrap interval as a band (rliable's summary),
and a bar chart beside it shows the final normalised scores the same way, from each run's
result.json. Written as PNG and SVG (`--output name.png` also writes `name.svg`).

Where the seeds come from: a `TrainResult.save` folder keeps every seed's curve (history/);
a command-line run's metrics.jsonl averages its seeds, so it counts as one seed of the curve
(run it once per seed, or save from Python, for a band).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from imitax.errors import CheckpointError, ConfigError, OutputError
from imitax.io.result_file import read_result_file
from imitax.io.run_dir import CONFIG_FILE, METRICS_JSONL, read_metrics

X_UNITS = ("env_steps", "gradient_steps", "epochs", "round", "iteration")


@dataclasses.dataclass
class PlotArgs:
    """Overlay learning curves of runs (IQM over seeds, 95% bootstrap band) and their final normalised scores."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """run folders, or folders of run folders (pooled as the seeds of one curve)"""
    metric: str = "episode_return"
    """the metric to plot against the runs' x axis (env_steps or gradient_steps)"""
    labels: tuple[str, ...] = ()
    """one legend label per RUN (default: each folder's name)"""
    output: Path = Path("comparison.png")
    """the PNG to write; an SVG of the same figure is written beside it"""
    json: bool = False
    """print the plotted summary as one JSON object on the last line of stdout"""


@dataclasses.dataclass(frozen=True)
class Curve:
    """One RUN argument's data: x f[points], per-seed values f[seeds, points] (NaN where missing),
    and the per-seed final normalised scores (empty when the runs recorded none)."""

    label: str
    x_name: str
    x: np.ndarray
    values: np.ndarray
    final_scores: tuple[float, ...]


def run_plot(args: PlotArgs) -> dict[str, Any]:
    """Check every input, then draw; nothing is written before all runs are read."""
    if not args.runs:
        raise ConfigError("imitax plot needs at least one RUN folder")
    if args.labels and len(args.labels) != len(args.runs):
        raise ConfigError(f"--labels has {len(args.labels)} names for {len(args.runs)} runs; expected one per RUN")
    output = args.output
    if output.suffix.lower() != ".png":
        raise ConfigError(f"--output {output}: expected a .png file name (an .svg is written beside it)")
    if not output.parent.is_dir():
        raise OutputError(f"--output {output}: the folder {output.parent} does not exist; expected an existing folder")
    for target in (output, output.with_suffix(".svg")):
        if target.is_dir():
            raise OutputError(f"--output {output}: {target} is a folder; expected a file name")
    labels = args.labels or tuple(path.name for path in args.runs)
    curves = [read_curve(path, label, args.metric) for path, label in zip(args.runs, labels)]
    from imitax.io.plots import plot_comparison

    summary = plot_comparison(output, curves, args.metric)
    out = {"command": "plot", "metric": args.metric, "png": str(output), "svg": str(output.with_suffix(".svg")),
           "curves": summary}
    if args.json:
        print(json.dumps(out))
    else:
        for entry in summary:
            final = entry["final_score_iqm"]
            print(f"{entry['label']}: {entry['seeds']} seeds, last {args.metric} IQM {entry['last_iqm']:.4g}"
                  + ("" if final is None else f", final normalised score IQM {final:.3f}"))
        print(f"wrote {output} and {output.with_suffix('.svg')}")
    return out


def read_curve(path: Path, label: str, metric: str) -> Curve:
    """The seeds of one RUN argument (a run folder, or a folder of run folders), on a common x."""
    if not path.is_dir():
        raise ConfigError(f"{path}: not a folder; expected a run folder or a folder of run folders")
    runs = [path] if _is_run(path) else sorted(child for child in path.iterdir() if child.is_dir() and _is_run(child))
    if not runs:
        raise CheckpointError(f"{path}: no run folder (config.json with metrics.jsonl or history/) in it or under it; "
                              "expected folders written by `imitax train`, `imitax expert` or TrainResult.save")
    seeds: list[tuple[str, np.ndarray, np.ndarray]] = []
    scores: list[float] = []
    for run in runs:
        seeds.extend(_run_seeds(run, metric))
        scores.extend(_final_scores(run))
    if not seeds:
        raise ConfigError(f"{path}: no run records the metric {metric!r}; expected one of the metrics.jsonl columns "
                          f"({', '.join(_columns(runs)) or 'none found'})")
    x_names = {x_name for x_name, _, _ in seeds}
    if len(x_names) > 1:
        raise ConfigError(f"{path}: its runs count progress in different units ({', '.join(sorted(x_names))}); "
                          "expected runs of one kind in one curve")
    x = np.unique(np.concatenate([xs for _, xs, _ in seeds]))
    values = np.full((len(seeds), x.size), np.nan)
    for row, (_, xs, ys) in enumerate(seeds):
        values[row, np.searchsorted(x, xs)] = ys
    return Curve(label, x_names.pop(), x, values, tuple(scores))


def _is_run(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and ((path / METRICS_JSONL).is_file() or (path / "history").is_dir())


def _run_seeds(run: Path, metric: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(x name, x f[points], values f[points]) per seed of `run`: every seed of a saved
    TrainResult's history, or metrics.jsonl's seed-averaged rows as one."""
    if (run / "history").is_dir():
        from imitax.io.checkpoint import load_checkpoint

        history, _ = load_checkpoint(run / "history")
        if metric not in history:
            return []
        values = np.asarray(history[metric], np.float64)
        if values.ndim != 2:
            raise CheckpointError(f"{run}/history: {metric} has shape {values.shape}; expected [num_seeds, points]")
        x = np.arange(1, values.shape[1] + 1, dtype=np.float64)
        return [("point", x, row) for row in values]
    rows = read_metrics(run)
    x_name = next((unit for unit in X_UNITS if rows and unit in rows[0]), None)
    points = [(row.get(x_name), row.get(metric)) for row in rows] if x_name else []
    points = [(float(x), float(y)) for x, y in points if _finite(x) and _finite(y)]
    if not points:
        return []
    xs, ys = (np.asarray(column) for column in zip(*points))
    return [(x_name, xs, ys)]


def _final_scores(run: Path) -> list[float]:
    """The per-seed normalised scores in `run`/result.json ([] when it has none)."""
    scores = read_result_file(run).seed_normalized_scores
    return list(scores) if scores is not None else []


def _columns(runs: list[Path]) -> list[str]:
    rows = read_metrics(runs[0]) if (runs[0] / METRICS_JSONL).is_file() else []
    return sorted(rows[0]) if rows else []


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
