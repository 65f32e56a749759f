"""`--log tensorboard`: TensorBoard event files in `<run>/tensorboard/`, written by tensorboardX
(no PyTorch or TensorFlow needed). View them with `tensorboard --logdir runs/`.

Scalars are tagged with the metric names of metrics.csv; the run's resolved config is the
"config" text and, with the names of the logged metrics, the HParams dashboard's entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imitax.errors import OutputError, os_reason
from imitax.io.loggers import HyperValue, finite_metrics, flat_hyperparameters

TENSORBOARD_FOLDER = "tensorboard"


class TensorBoardLogger:
    """Scalars and hyperparameters of one run as TensorBoard events."""

    def __init__(self, run_dir: Path, config: dict[str, Any], purge_step: int | None = None):
        from tensorboardX import SummaryWriter

        self.folder = Path(run_dir) / TENSORBOARD_FOLDER
        try:
            # purge_step (on --resume): TensorBoard hides what the killed attempt logged from that step on
            self._writer = SummaryWriter(logdir=str(self.folder), purge_step=purge_step, flush_secs=10)
        except OSError as error:
            raise OutputError(f"cannot write TensorBoard events in {self.folder}: {os_reason(error)}; "
                              "expected a writable run folder") from None
        self._hyperparameters: dict[str, HyperValue] = flat_hyperparameters(config)
        self._hparams_written = False
        self._writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", global_step=0)
        self._closed = False

    def log(self, metrics: dict[str, float | None], step: int) -> None:
        values = finite_metrics(metrics)
        if not self._hparams_written:
            self._write_hparams(list(metrics))
        for name, value in values.items():
            self._writer.add_scalar(name, value, global_step=step)
        self._writer.flush()

    def _write_hparams(self, metric_names: list[str]) -> None:
        """The HParams plugin's records, in this run's own event file (tensorboardX's
        `add_hparams` would open a second run folder for them)."""
        from tensorboardX.summary import hparams

        experiment, session_start, self._session_end = hparams(self._hyperparameters,
                                                               dict.fromkeys(metric_names, 0.0))
        file_writer = self._writer._get_file_writer()
        file_writer.add_summary(experiment)
        file_writer.add_summary(session_start)
        self._hparams_written = True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._hparams_written:
                self._writer._get_file_writer().add_summary(self._session_end)
            self._writer.close()
