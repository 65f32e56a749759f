"""Progress bar (rich, on stderr) and per-chunk metric rows for training loops."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from imitax.io.loggers import Logger
from imitax.io.plots import preload_in_background
from imitax.io.run_dir import MetricsWriter

STDERR = Console(stderr=True)


class TrainingMonitor:
    """Turns `on_chunk(iterations_done, metrics)` calls into a progress bar and metric rows.

    `unit` names what the loop counts (env steps, epochs); `per_iteration` converts
    loop iterations into that unit. Metric rows average over the chunk and the seeds;
    `episode_return` carries forward when a chunk finished no episode. Each row also goes
    to the `loggers` (TensorBoard, wandb), under the same names, at step `row[unit]`.
    """

    def __init__(self, progress: Progress | None, writer: MetricsWriter | None, total: int, per_iteration: int, unit: str,
                 loggers: Sequence[Logger] = ()):
        self.progress, self.writer, self.loggers = progress, writer, tuple(loggers)
        self.total, self.per_iteration, self.unit = total, per_iteration, unit
        self.task = progress.add_task("train", total=total, rate="", ret="") if progress else None
        self.start = time.perf_counter()
        self.first: tuple[float, int] | None = None  # (time, units) at the first report: rates exclude compilation
        self.last_return = math.nan
        self.rows: list[dict[str, float]] = []

    def __call__(self, iterations_done: int, metrics: dict[str, np.ndarray]) -> None:
        done = iterations_done * self.per_iteration
        row: dict[str, float] = {self.unit: done}  # no wall time: the same seed gives the same file
        for name, values in metrics.items():
            values = np.asarray(values, np.float64)
            if name == "episode_return":
                recent = values[:, -max(1, values.shape[1] // 2):]
                if np.isfinite(recent).any():  # an off-policy chunk can be shorter than an episode
                    self.last_return = float(np.nanmean(recent))
                row[name] = self.last_return
            else:
                row[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        self.rows.append(row)
        if self.writer is not None:
            self.writer.write(row)
        for logger in self.loggers:
            logger.log({name: value for name, value in row.items() if name != self.unit}, step=done)
        if self.first is None:
            self.first = (time.perf_counter(), done)
            preload_in_background()  # for the learning curve after training
        if self.progress is not None:
            since, base = self.first
            rate = (done - base) / max(time.perf_counter() - since, 1e-9)
            self.progress.update(self.task, completed=done, rate=f"{rate:,.0f} {self.unit.replace('_', ' ')}/s" if rate else "",
                                 ret=f"return {self.last_return:.1f}" if math.isfinite(self.last_return) else "")


@contextmanager
def monitor(description: str, total: int, per_iteration: int, unit: str, writer: MetricsWriter | None, show: bool = True,
            loggers: Sequence[Logger] = ()) -> Iterator[TrainingMonitor]:
    """A TrainingMonitor with a live progress bar (hidden when `show` is False)."""
    if not show:
        yield TrainingMonitor(None, writer, total, per_iteration, unit, loggers)
        return
    columns = [
        TextColumn(f"[bold]{description}"), BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + unit.replace("_", " ")),
        TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[ret]}"), TimeElapsedColumn(),
    ]
    with Progress(*columns, console=STDERR, transient=False) as progress:
        yield TrainingMonitor(progress, writer, total, per_iteration, unit, loggers)


def per_seed(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values).reshape(-1)]
