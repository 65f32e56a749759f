"""Training state for `--resume`: `<run>/resume/`, a checkpoint folder (no pickle).

`params.msgpack` holds `{"carry": the training loop's whole carry (params, optimiser
states, PRNG keys, environment states, counters), "history": metrics so far}`;
`meta.json` holds `kind: "resume"`, the iterations done and the number of metric rows
written when it was saved. The folder is replaced atomically (the previous one is kept
until the new one is complete), so a run killed at any moment resumes from its last
good save; rows written after that save are dropped on resume, so the metrics files get
no gap and no duplicate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from imitax.errors import CheckpointError
from imitax.io.checkpoint import META_FILE, load_checkpoint, read_metadata, restore_into, save_checkpoint
from imitax.io.run_dir import MetricsWriter
from imitax.rl.rates import keep_configured_rates
from imitax.schema import Fields

RESUME_FOLDER = "resume"


class ResumeCheckpoint:
    """A `LoopCheckpoint` (see `imitax.rl.loop`) saving to `<run_dir>/resume/`.

    Due after a chunk when `every_s` seconds have passed since the last save (0: after
    every chunk), and always after the last chunk.
    """

    def __init__(self, run_dir: str | Path, every_s: float, writer: MetricsWriter | None = None):
        self.folder = Path(run_dir) / RESUME_FOLDER
        self.every_s = every_s
        self.writer = writer  # its row count is saved, so a resume can drop rows written after the save
        self.last_save = time.monotonic()

    def exists(self) -> bool:
        return self.folder.is_dir() or (self.folder.parent / f".{self.folder.name}.old").is_dir()

    def saved_metric_rows(self) -> int:
        """Metric rows written when the state was last saved (0 without a saved state)."""
        if not self.exists():
            return 0
        return self._checked(read_metadata(self.folder))[1]

    def _checked(self, meta: dict[str, Any]) -> tuple[int, int]:
        """(iterations, metric_rows) of meta.json, read through its schema: kind "resume",
        iterations a whole number, metric_rows one too (absent: 0)."""
        if meta.get("kind") != "resume":
            raise CheckpointError(f"{self.folder}: checkpoint kind is {meta.get('kind')!r}; expected the 'resume' "
                                  "state a training run saves")
        fields = Fields(meta, self.folder / META_FILE)
        return fields.integer("iterations", low=0), fields.integer("metric_rows", default=0, low=0)

    def restore(self, template: Any) -> tuple[int, Any, dict[str, np.ndarray]] | None:
        if not self.exists():
            return None
        state, meta = load_checkpoint(self.folder)
        iterations, _ = self._checked(meta)
        if not isinstance(state, dict) or "carry" not in state:
            raise CheckpointError(f"{self.folder}: no training state in it; expected the 'resume' state a run saves")
        # the saved state, but at the learning rates the run's config gives now (see imitax.rl.rates)
        carry = keep_configured_rates(restore_into(self.folder, template, state["carry"]), template)
        return iterations, carry, self._history(state.get("history", {}))

    def _history(self, saved: Any) -> dict[str, np.ndarray]:
        """The saved metrics so far, {name: numeric array}."""
        if not isinstance(saved, dict):
            raise CheckpointError(f"{self.folder}: history is a {type(saved).__name__}; expected metric arrays by name")
        history = {}
        for name, values in saved.items():
            array = np.asarray(values)
            if array.dtype.kind not in "fiub":
                raise CheckpointError(f"{self.folder}: history {name!r} holds {array.dtype} values; expected numbers")
            history[name] = array
        return history

    def due(self, final: bool) -> bool:
        return final or time.monotonic() - self.last_save >= self.every_s

    def save(self, iterations: int, carry: Any, history: dict[str, np.ndarray]) -> None:
        rows = self.writer.rows_written if self.writer is not None else 0
        save_checkpoint(self.folder, {"carry": carry, "history": history},
                        {"kind": "resume", "iterations": iterations, "metric_rows": rows})
        self.last_save = time.monotonic()
