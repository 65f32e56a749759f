"""`--log wandb`: a Weights & Biases run in `<run>/wandb/` (wandb is an optional extra:
`pip install 'imitax[wandb]'`).

Online by default (needs `wandb login` or WANDB_API_KEY); `WANDB_MODE=offline` writes the
run locally for a later `wandb sync`. The project is WANDB_PROJECT (default "imitax"), the
run's name the run folder's; its config is the run's resolved config.json. An online
`--resume`d run continues the same wandb run (its id is kept in `<run>/wandb/imitax-run-id`);
an offline one gets a new offline run folder under the same id.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from imitax.errors import ConfigError, OutputError, os_reason
from imitax.io.atomic import atomic_write_text
from imitax.io.loggers import finite_metrics

WANDB_FOLDER = "wandb"
RUN_ID_FILE = "imitax-run-id"
DEFAULT_PROJECT = "imitax"
WANDB_MODES = ("online", "offline", "disabled")


class WandbLogger:
    """Metric rows and config of one run as a wandb run."""

    def __init__(self, run_dir: Path, config: dict[str, Any], resumed: bool):
        import wandb

        run_dir = Path(run_dir)
        folder = run_dir / WANDB_FOLDER
        id_file = folder / RUN_ID_FILE
        run_id = id_file.read_text(encoding="utf-8").strip() if resumed and id_file.is_file() else secrets.token_hex(4)
        try:
            folder.mkdir(exist_ok=True)
            atomic_write_text(id_file, run_id + "\n")
        except OSError as error:
            raise OutputError(f"cannot write {folder}: {os_reason(error)}; expected a writable run folder") from None
        # read here, not left to wandb, which keeps the first value it saw in a process
        mode = os.environ.get("WANDB_MODE") if os.environ.get("WANDB_MODE") in WANDB_MODES else None
        # an offline run cannot be continued (wandb warns and starts a new one): resume online only
        resume = "allow" if resumed and mode in (None, "online") else None
        try:
            self._run = wandb.init(project=os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT), name=run_dir.name,
                                   id=run_id, resume=resume, mode=mode, dir=str(run_dir), config=config,
                                   settings=wandb.Settings(silent=True, console="off", save_code=False))
        except Exception as error:  # wandb's own errors (no API key, no network) have no common base
            reason = " ".join(str(error).split())
            raise ConfigError(f"--log wandb: wandb could not start a run ({type(error).__name__}: {reason}); expected "
                              "`wandb login` (or WANDB_API_KEY) for online logging, or WANDB_MODE=offline") from None
        self._closed = False

    def log(self, metrics: dict[str, float | None], step: int) -> None:
        self._run.log(finite_metrics(metrics), step=int(step))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._run.finish()
