"""Learning curves as PNG (matplotlib, Agg backend: works headless)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from imitax.io.atomic import atomic_write_bytes


def plot_learning_curve(path: str | Path, rows: list[dict[str, Any]], x: str, ys: list[str], title: str,
                        hlines: dict[str, float] | None = None) -> Path:
    """One panel per metric in `ys` against `x`; `hlines` (e.g. expert/random) on the first."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 2.6 * len(ys)), dpi=100)
    FigureCanvasAgg(figure)
    for index, name in enumerate(ys):
        axis = figure.add_subplot(len(ys), 1, index + 1)
        points = [(row[x], row[name]) for row in rows if _finite(row.get(x)) and _finite(row.get(name))]
        if points:
            axis.plot(*zip(*points), marker="." if len(points) < 30 else None)
        if index == 0 and hlines:
            for label, value in hlines.items():
                axis.axhline(value, linestyle="--", linewidth=1, color="gray" if label == "random" else "green", label=label)
            axis.legend(loc="lower right", fontsize=8)
        axis.set_ylabel(name.replace("_", " "))
        axis.grid(alpha=0.3)
    figure.axes[-1].set_xlabel(x.replace("_", " "))
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
