"""Learning curves as PNG files.

Uses matplotlib's object-oriented API with the Agg canvas, never pyplot, so it works
headless and leaves the caller's matplotlib backend and global figures alone.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from imitax.io.atomic import atomic_write_bytes

_PANEL_HEIGHT = 2.6
_WIDTH = 6.5
_HLINE_COLORS = {"expert": "tab:green", "random": "tab:gray"}


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
