"""Run folders: runs/<name>/ with config.json, metrics (CSV + JSONL) and summary.md."""

from __future__ import annotations

import csv
import dataclasses
import enum
import json
import math
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from imitax.errors import ImitaxError
from imitax.io.atomic import atomic_write_json, atomic_write_text


def make_run_dir(root: str | Path = "runs", name: str | None = None, prefix: str = "run") -> Path:
    """Create and return a fresh run folder; a taken name gets a numeric suffix."""
    root = Path(root)
    base = name or f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            candidate = root / (base if attempt == 0 else f"{base}-{attempt}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as error:
        raise ImitaxError(f"cannot create a run folder under {root}: {error.strerror or error}; expected a writable folder") from None
    raise ImitaxError(f"cannot create a run folder {root / base}: 1000 names taken")


def to_jsonable(value: Any) -> Any:
    """Dataclasses (nested), enums, paths, tuples and numpy/jax scalars as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if type(value).__name__ == "_MISSING_TYPE" or repr(value).startswith("<tyro"):
        return None
    return value


def write_config(run_dir: str | Path, config: Any) -> None:
    atomic_write_json(Path(run_dir) / "config.json", to_jsonable(config))


class MetricsWriter:
    """Appends metric rows to metrics.csv and metrics.jsonl; columns are fixed by the first row."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.columns: list[str] | None = None
        self._csv = open(self.run_dir / "metrics.csv", "a", newline="")
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a")
        self._writer: Any = None

    def write(self, row: dict[str, Any]) -> None:
        row = {k: _scalar(v) for k, v in row.items()}
        if self.columns is None:
            self.columns = list(row)
            self._writer = csv.DictWriter(self._csv, fieldnames=self.columns)
            self._writer.writeheader()
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"metric columns {sorted(unknown)} were not in the first row {self.columns}")
        self._writer.writerow({k: row.get(k, "") for k in self.columns})
        self._jsonl.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}) + "\n")
        self._csv.flush()
        self._jsonl.flush()

    def close(self) -> None:
        self._csv.close()
        self._jsonl.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_summary(run_dir: str | Path, title: str, sections: dict[str, Any]) -> None:
    """summary.md: a title, then per section text, a key/value table or a table of rows."""
    lines = [f"# {title}", ""]
    for heading, body in sections.items():
        lines += [f"## {heading}", ""]
        if isinstance(body, dict):
            lines += ["| | |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in body.items()]
        elif isinstance(body, list) and body and isinstance(body[0], dict):
            keys = list(body[0])
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |" for row in body]
        else:
            lines.append(str(body))
        lines.append("")
    atomic_write_text(Path(run_dir) / "summary.md", "\n".join(lines))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
