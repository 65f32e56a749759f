"""Run folders: runs/<name>/ with config.json, metrics (CSV + JSONL) and summary.md.

    run_dir = make_run_dir("runs", prefix="gail-CartPole-v1")   # runs/gail-CartPole-v1-20261124-153000
    write_config(run_dir, config)                               # config.json from the dataclass
    with MetricsWriter(run_dir) as metrics:
        metrics.write({"env_steps": 4096, "episode_return": 21.5})
    write_summary(run_dir, "GAIL on CartPole-v1", {"Result": {"score": 0.98}})
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import errno
import io
import json
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from imitax.errors import CheckpointError, ImitaxError, OutputError
from imitax.io.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, os_reason, to_jsonable
from imitax.io.run_lock import LOCK_FILE

__all__ = ["MetricsWriter", "discard_failed_runs", "make_run_dir", "read_metrics", "to_jsonable", "truncate_metrics",
           "write_config", "write_summary"]

CONFIG_FILE = "config.json"
METRICS_CSV = "metrics.csv"
METRICS_JSONL = "metrics.jsonl"
SUMMARY_FILE = "summary.md"
_MAX_SUFFIX = 1000
SAVED_STATE_FOLDERS = ("checkpoint", "resume")  # a run folder holding one of these is kept after a failure
# Run folders made inside the innermost `discard_failed_runs` block (None outside any).
_runs_made_in_block: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("imitax_runs_made", default=None)
# Resumed run folders as they were when the block's command took them (see `protect_resumed_run`).
_runs_resumed_in_block: contextvars.ContextVar[list[_ResumedRun] | None] = contextvars.ContextVar(
    "imitax_runs_resumed", default=None)
# what a resumed command rewrites before its saved state is restored (the lock file: the writer's
# PID): kept byte for byte
RESUME_REWRITES = (CONFIG_FILE, METRICS_CSV, METRICS_JSONL, LOCK_FILE)


# ---------------------------------------------------------------------------- folders and config


def make_run_dir(root: str | Path = "runs", name: str | None = None, prefix: str = "run") -> Path:
    """Create and return a new, empty run folder under `root`.

    The name is `name`, or `<prefix>-<YYYYmmdd-HHMMSS>`; a name already taken gets a
    suffix `-1`, `-2`, ... so an earlier run is never overwritten.

    Raises:
        OutputError: `root` cannot be created or written (the message names it).
    """
    root = Path(root)
    base = name or f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for attempt in range(_MAX_SUFFIX):
            candidate = root / (base if attempt == 0 else f"{base}-{attempt}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            made = _runs_made_in_block.get()
            if made is not None:
                made.append(candidate)
            return candidate
    except OSError as error:
        raise OutputError(f"cannot create a run folder under {root}: {os_reason(error)}; "
                          "expected a writable folder") from None
    raise OutputError(f"cannot create a run folder {root / base}: {_MAX_SUFFIX} names taken; expected a free name")


# errno values of writes the operating system refuses: the user's to fix, not a bug
WRITE_REFUSALS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})


@contextlib.contextmanager
def discard_failed_runs() -> Iterator[None]:
    """Remove the run folders `make_run_dir` creates in this block when it fails with an
    `ImitaxError`, so a refused command leaves no half-written run behind. A folder that
    already holds saved state (`checkpoint/` or `resume/`) is kept: it can be resumed or used.
    A write the operating system refuses (a full disk, no permission, a read-only file
    system) becomes an `OutputError` naming the file.
    """
    made: list[Path] = []
    resumed: list[_ResumedRun] = []
    token, resumed_token = _runs_made_in_block.set(made), _runs_resumed_in_block.set(resumed)
    try:
        try:
            yield
        except OSError as error:
            if error.errno not in WRITE_REFUSALS:
                raise
            raise OutputError(f"cannot write {os_reason(error)}; expected free disk space and write permission") from None
    except ImitaxError:
        for run_dir in made:
            if not any((run_dir / name).exists() for name in SAVED_STATE_FOLDERS):
                shutil.rmtree(run_dir, ignore_errors=True)
        for run in resumed:
            run.put_back()
        raise
    finally:
        _runs_made_in_block.reset(token)
        _runs_resumed_in_block.reset(resumed_token)


class _ResumedRun:
    """A run folder as a `--resume` found it: the bytes of the files it rewrites before its
    saved state is restored, the names of all its files, and its saved state's meta.json."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.files = {name: _read_or_none(run_dir / name) for name in RESUME_REWRITES}
        self.paths = {path for path in run_dir.rglob("*")}
        self.state = self._state()

    def _state(self) -> bytes | None:
        return _read_or_none(self.run_dir / "resume" / "meta.json")

    def put_back(self) -> None:
        """The folder as it was, when the command failed before saving any new state (a refused
        resume); a command that saved state has moved the run on, and its files go with it."""
        if self._state() != self.state:
            return
        for name, data in self.files.items():
            path = self.run_dir / name
            if data is None:
                path.unlink(missing_ok=True)
            elif _read_or_none(path) != data:
                atomic_write_bytes(path, data)
        for path in sorted(self.run_dir.rglob("*"), reverse=True):  # files before their folders
            if path not in self.paths:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def protect_resumed_run(run_dir: Path) -> None:
    """Inside `discard_failed_runs`: if the command fails with an `ImitaxError` before it saves
    new state (its resume is refused: another architecture, a damaged state), `run_dir` is
    put back as it was: config.json, the metrics and the lock file byte for byte, new files removed."""
    resumed = _runs_resumed_in_block.get()
    if resumed is not None:
        resumed.append(_ResumedRun(Path(run_dir)))


def write_config(run_dir: str | Path, config: Any) -> None:
    """Write `config` (a dataclass, nested ones, tuples, enums, paths...) to config.json, atomically."""
    atomic_write_json(Path(run_dir) / CONFIG_FILE, to_jsonable(config))


# ---------------------------------------------------------------------------- metrics


class MetricsWriter:
    """Appends metric rows to metrics.csv and metrics.jsonl in `run_dir`.

    The first row fixes the columns: a later row with a new key raises ValueError (or
    CheckpointError when the columns came from an earlier run's file: a resumed run written by
    another version), a missing key is left empty (CSV) or null (JSONL). NumPy/JAX scalars become Python
    numbers; non-finite floats are `nan`/`inf` in the CSV and null in the JSONL. Both
    files are flushed after every row, so a crash loses at most the row being written.
    Appending to a folder that already has metrics keeps its CSV columns.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.columns: list[str] | None = _csv_header(self.run_dir / METRICS_CSV)
        self.appended = self.columns is not None  # the columns were read back from an earlier run's file
        self.rows_written = len(read_metrics(self.run_dir))
        try:
            self._csv = open(self.run_dir / METRICS_CSV, "a", newline="", encoding="utf-8")
            self._jsonl = open(self.run_dir / METRICS_JSONL, "a", encoding="utf-8")
        except OSError as error:
            if hasattr(self, "_csv"):
                self._csv.close()
            raise OutputError(f"cannot write metrics in {self.run_dir}: {os_reason(error)}; "
                              "expected a writable run folder") from None

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (metric name -> number) to both files."""
        row = {str(key): _scalar(key, value) for key, value in row.items()}
        if self.columns is None:
            self.columns = list(row)
            self._csv.write(_csv_line(self.columns))
        unknown = [key for key in row if key not in self.columns]
        if unknown and self.appended:
            raise CheckpointError(f"{self.run_dir / METRICS_CSV} has the columns {self.columns}, and this run also logs "
                                  f"{unknown} (was the run written by another imitax version?); expected a run folder "
                                  "whose metrics this version writes: start a new run")
        if unknown:
            raise ValueError(f"metric columns {unknown} were not in the first row {self.columns}")
        complete = {key: row.get(key) for key in self.columns}
        self.rows_written += 1
        self._csv.write(_csv_line(["" if value is None else value for value in complete.values()]))
        self._jsonl.write(json.dumps({key: _json_number(value) for key, value in complete.items()}) + "\n")
        self._csv.flush()
        self._jsonl.flush()

    def close(self) -> None:
        """Close both files (safe to call twice)."""
        self._csv.close()
        self._jsonl.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def truncate_metrics(run_dir: str | Path, num_rows: int) -> list[dict[str, Any]]:
    """Keep the first `num_rows` rows of metrics.csv and metrics.jsonl (atomic rewrites),
    dropping rows a killed run wrote after its last saved state; returns the kept rows."""
    run_dir = Path(run_dir)
    for name, header_lines in ((METRICS_CSV, 1), (METRICS_JSONL, 0)):
        path = run_dir / name
        if path.is_file():
            # bytes, not text: the kept rows keep their own line endings (csv writes \r\n), so the
            # resumed file is byte-identical to an uninterrupted run's
            lines = path.read_bytes().splitlines(keepends=True)
            atomic_write_bytes(path, b"".join(lines[: header_lines + num_rows]))
    return read_metrics(run_dir)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of `run_dir`/metrics.jsonl in order ([] if there is none)."""
    path = Path(run_dir) / METRICS_JSONL
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ImitaxError(f"{path}, line {number}: not valid JSON; expected one metrics row per line") from None
        if not isinstance(row, dict):
            raise ImitaxError(f"{path}, line {number}: a {type(row).__name__}; expected a JSON object")
        rows.append(row)
    return rows


def _csv_header(path: Path) -> list[str] | None:
    """The columns of an existing, non-empty metrics.csv, else None."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), None)
    except OSError:
        return None


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _scalar(key: Any, value: Any) -> Any:
    """A Python number (or str/bool/None) from a metric value; arrays of one element too."""
    if hasattr(value, "item") and hasattr(value, "shape"):
        if getattr(value, "size", 1) != 1:
            raise ValueError(f"metric {key!r} has shape {value.shape}; expected a scalar")
        value = value.item()
    if value is None or isinstance(value, (int, float, str)):
        return value
    raise TypeError(f"metric {key!r} is a {type(value).__name__}; expected a number")


def _json_number(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


# ---------------------------------------------------------------------------- summary


SummarySection = str | dict[str, Any] | list[dict[str, Any]]


def write_summary(run_dir: str | Path, title: str, sections: dict[str, SummarySection]) -> None:
    """Write summary.md: `# title`, then per section a `## heading` and its body.

    A body is text (written as it is), a dict (a two-column key/value table) or a list
    of dicts (a table with one column per key, in first-seen order).
    """
    lines = [f"# {title}", ""]
    for heading, body in sections.items():
        lines += [f"## {heading}", "", *_section_lines(body), ""]
    atomic_write_text(Path(run_dir) / SUMMARY_FILE, "\n".join(lines))


def _section_lines(body: Any) -> list[str]:
    if isinstance(body, dict):
        return _key_value_table(body)
    if isinstance(body, list) and body and all(isinstance(row, dict) for row in body):
        return _rows_table(body)
    if isinstance(body, list):
        return [f"- {_cell(item)}" for item in body] or ["(none)"]
    return [str(body)]


def _key_value_table(body: dict[str, Any]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {_cell(key)} | {_cell(value)} |" for key, value in body.items())]


def _rows_table(rows: list[dict[str, Any]]) -> list[str]:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    header = "| " + " | ".join(_cell(key) for key in keys) + " |"
    rule = "|" + "---|" * len(keys)
    return [header, rule, *("| " + " | ".join(_cell(row.get(key, "")) for key in keys) + " |" for row in rows)]


def _cell(value: Any) -> str:
    """A table cell: numbers to 4 significant digits (large ones with separators), one line, `|` escaped."""
    if hasattr(value, "item") and getattr(value, "size", 0) == 1:
        value = value.item()
    if isinstance(value, float):
        text = f"{value:.4g}" if not math.isfinite(value) or abs(value) < 1e4 else f"{value:,.0f}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")
