"""Learning curves, reward heatmaps, scaling curves and run comparisons as PNG (and SVG) files.

Uses matplotlib's object-oriented API with the Agg canvas, never pyplot, so it works
headless and leaves the caller's matplotlib backend and global figures alone.
"""

from __future__ import annotations

import importlib
import io
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imitax.io.atomic import atomic_write_bytes

_PANEL_HEIGHT = 2.6
_WIDTH = 6.5
_HLINE_COLORS = {"expert": "tab:green", "random": "tab:gray"}
_preloading: list[threading.Thread] = []


def preload_in_background() -> None:
    """Import matplotlib on a background thread (once per process), so that a plot made later does
    not wait for it: a command calls this when training starts, and the import (~0.4 s of a warm
    `imitax train gail` on the 2-core CPU, font list included) overlaps the compiled training, which
    leaves Python idle. A plot made before it finishes waits for it (the import lock). Not a daemon
    thread: a process that ends early (an error) waits for the import rather than tear it down
    mid-way (a daemon writing to stderr at shutdown, as matplotlib's first font-cache build does,
    can abort the interpreter)."""
    if not _preloading:
        _preloading.append(threading.Thread(target=_import_matplotlib, name="imitax-matplotlib-import"))
        _preloading[0].start()


def _import_matplotlib() -> None:
    try:
        for module in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
            importlib.import_module(module)
    except Exception:  # the plot's own import reports it, in the foreground
        pass


def plot_learning_curve(path: str | Path, rows: list[dict[str, Any]], x: str, ys: list[str], title: str,
                        hlines: dict[str, float] | None = None) -> Path:
    """Plot each metric in `ys` against `x` (one panel per metric) and save a PNG atomically.

    Args:
        path: the PNG file to write.
        rows: metric rows, e.g. from `read_metrics`; rows where `x` or a metric is
            missing, None or not finite are skipped for that metric.
        x: the key of the horizontal axis (e.g. "env_steps").
        ys: the metric keys, one panel each.
        title: the figure title.
        hlines: reference levels drawn as dashed lines on the first panel, e.g.
            `{"expert": 500.0, "random": 22.0}`.

    Returns:
        `path`.
    """
    if not ys:
        raise ValueError("plot_learning_curve needs at least one metric in `ys`")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH, 1.0 + _PANEL_HEIGHT * len(ys)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(ys), 1, sharex=True, squeeze=False)[:, 0]
    for index, (axis, name) in enumerate(zip(axes, ys)):
        _plot_metric(axis, rows, x, name)
        if index == 0 and hlines:
            _draw_hlines(axis, hlines)
    axes[-1].set_xlabel(_label(x))
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def _plot_metric(axis: Any, rows: list[dict[str, Any]], x: str, name: str) -> None:
    """One metric's finite points as a line (with markers when there are few)."""
    points = [(_number(row.get(x)), _number(row.get(name))) for row in rows]
    points = [(px, py) for px, py in points if px is not None and py is not None]
    if points:
        xs, ys = zip(*points)
        axis.plot(xs, ys, marker="." if len(points) < 30 else None, linewidth=1.5)
    else:
        axis.text(0.5, 0.5, "no data", transform=axis.transAxes, ha="center", va="center", color="gray")
    axis.set_ylabel(_label(name))
    axis.grid(alpha=0.3)


def _draw_hlines(axis: Any, hlines: dict[str, float]) -> None:
    for label, value in hlines.items():
        level = _number(value)
        if level is not None:
            axis.axhline(level, linestyle="--", linewidth=1, color=_HLINE_COLORS.get(label),
                         label=f"{label} ({level:g})")
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="best", fontsize=8)


def _number(value: Any) -> float | None:
    """A finite float from a Python/NumPy/JAX number, else None (missing, NaN, text...)."""
    if isinstance(value, (str, bytes)) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _label(key: str) -> str:
    return key.replace("_", " ")


def plot_reward_heatmaps(path: str | Path, grids: dict[str, Any], title: str,
                         layout: Sequence[str] | None = None) -> Path:
    """Rewards on a grid, one heatmap panel per entry of `grids`, side by side; save a PNG atomically.

    Args:
        path: the PNG file to write.
        grids: panel title -> f[rows, cols] values, NaN on walls (drawn dark gray).
            Every panel has its own colour scale (a learned reward is only defined up to
            shift and scale).
        title: the figure title.
        layout: the ASCII rows of the grid; S, G and X cells get their letter drawn.

    Returns:
        `path`.
    """
    if not grids:
        raise ValueError("plot_reward_heatmaps needs at least one grid")
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arrays = {name: np.asarray(grid, np.float64) for name, grid in grids.items()}
    rows, cols = next(iter(arrays.values())).shape
    panel_width = max(2.5, min(5.0, 0.45 * cols + 1.2))
    figure = Figure(figsize=(panel_width * len(arrays), 0.45 * rows + 1.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    colormap = colormaps["viridis"].with_extremes(bad="0.25")
    for axis, (name, grid) in zip(figure.subplots(1, len(arrays), squeeze=False)[0], arrays.items()):
        image = axis.imshow(np.ma.masked_invalid(grid), cmap=colormap, interpolation="nearest")
        figure.colorbar(image, ax=axis, shrink=0.8)
        for row, line in enumerate(layout or ()):
            for col, char in enumerate(line):
                if char in "SGX":
                    axis.text(col, row, char, ha="center", va="center", color="white", fontsize=9, fontweight="bold")
        axis.set_title(name, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def plot_scaling(path: str | Path, xs: Sequence[float], series: dict[str, dict[str, Sequence[float]]], xlabel: str,
                 ylabel: str, title: str, hlines: dict[str, float] | None = None, log_x: bool = True) -> Path:
    """Mean curves with 95% intervals (e.g. a score against the number of demonstrations); save a PNG.

    Args:
        path: the PNG file to write.
        xs: the horizontal positions, shared by every series.
        series: name -> {"mean": [...], "low": [...], "high": [...]} (one value per x); the
            interval between low and high is shaded.
        xlabel, ylabel, title: axis labels and the figure title.
        hlines: reference levels drawn dashed, e.g. `{"expert": 1.0}`.
        log_x: a logarithmic horizontal axis.

    Returns:
        `path`.
    """
    if not series:
        raise ValueError("plot_scaling needs at least one series")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for name, curve in series.items():
        line = axis.plot(xs, curve["mean"], marker="o", markersize=4, linewidth=1.5, label=name)[0]
        axis.fill_between(xs, curve["low"], curve["high"], color=line.get_color(), alpha=0.2, linewidth=0)
    for label, value in (hlines or {}).items():
        axis.axhline(value, linestyle="--", linewidth=1, color=_HLINE_COLORS.get(label, "black"), label=label)
    if log_x:
        axis.set_xscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize=8)
    axis.set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def plot_comparison(path: str | Path, curves: Sequence[Any], metric: str) -> list[dict[str, Any]]:
    """Overlay `curves` (`commands.plot.Curve`: x f[points], values f[seeds, points]) as the
    interquartile mean over seeds with a 95% bootstrap band, beside a bar chart of each curve's
    final normalised scores (IQM, 95% interval); write `path` (PNG) and its .svg atomically.
    Returns per curve: label, seeds, the last point's IQM and the final scores' IQM (None without)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from imitax.eval import iqm_statistics

    figure = Figure(figsize=(11.0, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    curve_axis, bar_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    summary = []
    for index, curve in enumerate(curves):
        color = f"C{index % 10}"
        points = [(x, iqm_statistics(column[np.isfinite(column)])) for x, column in zip(curve.x, curve.values.T)
                  if np.isfinite(column).any()]
        xs = [x for x, _ in points]
        curve_axis.plot(xs, [iqm for _, (iqm, _) in points], color=color, label=f"{curve.label} ({len(curve.values)} seeds)")
        curve_axis.fill_between(xs, [low for _, (_, (low, _)) in points], [high for _, (_, (_, high)) in points],
                                color=color, alpha=0.2, linewidth=0)
        final = iqm_statistics(curve.final_scores) if curve.final_scores else None
        if final is not None:
            iqm, (low, high) = final
            bar_axis.bar(index, iqm, color=color, yerr=[[iqm - low], [high - iqm]], capsize=4)
        summary.append({"label": curve.label, "seeds": len(curve.values), "last_iqm": points[-1][1][0],
                        "final_score_iqm": None if final is None else final[0],
                        "final_score_ci95": None if final is None else list(final[1])})
    curve_axis.set_xlabel(_label(curves[0].x_name))
    curve_axis.set_ylabel(f"{_label(metric)} (IQM, 95% CI)")
    curve_axis.legend(fontsize=8)
    bar_axis.set_xticks(range(len(curves)), [curve.label for curve in curves], rotation=30, ha="right", fontsize=8)
    bar_axis.set_ylabel("final normalised score (IQM, 95% CI)")
    bar_axis.axhline(1.0, color=_HLINE_COLORS["expert"], linestyle="--", linewidth=1)
    bar_axis.axhline(0.0, color=_HLINE_COLORS["random"], linestyle="--", linewidth=1)
    for suffix, kind in ((".png", "png"), (".svg", "svg")):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=kind)
        atomic_write_bytes(Path(path).with_suffix(suffix), buffer.getvalue())
    return summary


def plot_sweep(path: str | Path, fields: Sequence[str], points: Sequence[dict[str, Any]], means: Sequence[float],
               grid: bool, title: str, metric: str) -> Path:
    """A sweep's seed-mean `metric` per point, written to `path` (PNG) atomically: a heatmap
    (first field down, second across, each cell labelled) when `grid` spans one or two fields,
    else one scatter panel per field (log x where every value is positive: rates)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    means = np.asarray(means, np.float64)  # NaN where a point diverged
    if grid and len(fields) <= 2:
        rows = _distinct([point[fields[0]] for point in points])
        cols = _distinct([point[fields[1]] for point in points]) if len(fields) == 2 else [None]
        table = np.full((len(rows), len(cols)), np.nan)
        for point, mean in zip(points, means):
            col = cols.index(point[fields[1]]) if len(fields) == 2 else 0
            table[rows.index(point[fields[0]]), col] = mean
        figure = Figure(figsize=(1.1 * len(cols) + 2.6, 0.6 * len(rows) + 1.6), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        axis = figure.subplots()
        image = axis.imshow(table, cmap="viridis", origin="lower", aspect="auto")
        figure.colorbar(image, ax=axis, shrink=0.8, label=metric)
        finite = table[np.isfinite(table)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        for (row, col), value in np.ndenumerate(table):
            dark = not np.isfinite(value) or value < low + 0.5 * (high - low)
            label = f"{value:.2f}" if np.isfinite(value) else "diverged"  # NaN: the point diverged
            axis.text(col, row, label, ha="center", va="center", color="white" if dark else "black", fontsize=9)
        axis.set_yticks(range(len(rows)), [_tick(v) for v in rows])
        axis.set_ylabel(fields[0])
        if len(fields) == 2:
            axis.set_xticks(range(len(cols)), [_tick(v) for v in cols])
            axis.set_xlabel(fields[1])
        else:
            axis.set_xticks([])
    else:
        figure = Figure(figsize=(3.2 * len(fields), 3.2), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        for axis, field in zip(figure.subplots(1, len(fields), squeeze=False)[0], fields):
            values = [point[field] for point in points]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            xs = values if numeric else [_distinct(values).index(v) for v in values]
            axis.scatter(xs, means, c=means, cmap="viridis")
            if numeric and min(values) > 0:
                axis.set_xscale("log")
            if not numeric:
                axis.set_xticks(range(len(_distinct(values))), [_tick(v) for v in _distinct(values)])
            axis.set_xlabel(field)
            axis.set_ylabel(metric)
    figure.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def _distinct(values: Sequence[Any]) -> list[Any]:
    """The values in first-seen order, each once (sorted when they are all numbers)."""
    seen = list(dict.fromkeys(values))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return sorted(seen)
    return seen


def _tick(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
