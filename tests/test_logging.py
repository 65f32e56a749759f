"""`--log tensorboard` and `--log wandb`: what a run logs is read back from the files written.

One short BC run logs to both (wandb offline); each test reads one logger's files and checks
them against the run's metrics.jsonl (same names, same steps, same values) and config.json
(logged as hyperparameters).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from episodes import random_episode
from log_readers import tensorboard_hparams, tensorboard_scalars, wandb_config, wandb_history

import imitax.io.loggers as loggers
from imitax.cli import main
from imitax.data.minari_io import save_demonstrations
from imitax.envs.spec import Discrete, EnvSpec
from imitax.io.loggers import flat_hyperparameters
from imitax.io.run_dir import read_metrics

CARTPOLE = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
DEMOS = "cartpole/random-v0"
STEPS, EVERY = 200, 50


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A dataset of random CartPole episodes; wandb offline, its files under the test folder."""
    root = tmp_path_factory.mktemp("logging")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    mp.setenv("WANDB_MODE", "offline")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        mp.setenv(name, str(root / name.lower()))
    rng = np.random.default_rng(0)
    save_demonstrations(DEMOS, [random_episode(rng, CARTPOLE, 20, True) for _ in range(3)], CARTPOLE,
                        expert_score=100.0, random_score=10.0)
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def logged_run(world) -> Path:
    """A BC run logged to TensorBoard and wandb."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["train", "bc", "CartPole-v1", "--demos", DEMOS, "--bc.num-steps", str(STEPS), "--bc.log-every",
                     str(EVERY), "--eval-episodes", "2", "--runs-dir", str(world / "runs"), "--no-progress", "--json",
                     "--log", "tensorboard", "wandb"])
    assert code == 0, stdout.getvalue()
    return Path(json.loads(stdout.getvalue().splitlines()[-1])["run_dir"])


def _expected(run_dir: Path) -> dict[str, dict[int, float]]:
    """metric -> {step: value} from metrics.jsonl (the step column left out, NaN rows too)."""
    expected: dict[str, dict[int, float]] = {}
    for row in read_metrics(run_dir):
        step = int(row.pop("gradient_steps"))
        for name, value in row.items():
            if value is not None and math.isfinite(value):
                expected.setdefault(name, {})[step] = value
    return expected


def test_tensorboard_event_file_holds_the_metrics_and_the_config(logged_run):
    files = list((logged_run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    scalars = tensorboard_scalars(files[0])
    expected = _expected(logged_run)
    assert set(scalars) == set(expected) and "episode_return" in scalars and "loss" in scalars
    for name, values in expected.items():
        assert list(scalars[name]) == list(range(EVERY, STEPS + 1, EVERY))
        assert scalars[name] == pytest.approx(values, rel=1e-6)  # float32 in the event file
    hparams, metric_names = tensorboard_hparams(files[0])
    config = json.loads((logged_run / "config.json").read_text())
    assert hparams["bc.num_steps"] == STEPS and hparams["env_id"] == "CartPole-v1"
    assert hparams["options.log"] == json.dumps(["tensorboard", "wandb"])
    assert hparams == pytest.approx(flat_hyperparameters(config))
    assert set(metric_names) == set(expected)


def test_wandb_offline_run_holds_the_metrics_and_the_config(logged_run):
    runs = list((logged_run / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    run_file = next(runs[0].glob("run-*.wandb"))
    history = wandb_history(run_file)
    expected = _expected(logged_run)
    assert [row["_step"] for row in history] == list(range(EVERY, STEPS + 1, EVERY))
    for name, values in expected.items():
        assert {row["_step"]: row[name] for row in history if name in row} == pytest.approx(values, rel=1e-12)
    config = wandb_config(run_file)
    assert config["bc"]["num_steps"] == STEPS and config["env_id"] == "CartPole-v1"
    assert config == json.loads((logged_run / "config.json").read_text())


def test_metrics_files_are_written_with_or_without_loggers(logged_run):
    assert (logged_run / "metrics.csv").is_file() and len(read_metrics(logged_run)) == STEPS // EVERY


def test_missing_wandb_is_refused_before_anything_is_written(world, monkeypatch, capsys):
    real_find_spec = loggers.importlib.util.find_spec
    monkeypatch.setattr(loggers.importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real_find_spec(name, *a))
    runs = world / "refused-runs"
    code = main(["train", "bc", "CartPole-v1", "--demos", DEMOS, "--runs-dir", str(runs), "--no-progress", "--log", "wandb"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert "--log wandb needs the wandb package" in err[0] and "pip install 'imitax[wandb]'" in err[0]
    assert not runs.exists()


def test_hyperparameters_are_flat_scalars():
    config = {"env_id": "CartPole-v1", "bc": {"learning_rate": 3e-4, "hidden_sizes": [64, 64], "clip": None},
              "options": {"seed": 0, "progress": False, "checkpoint_every_s": math.inf}}
    assert flat_hyperparameters(config) == {"env_id": "CartPole-v1", "bc.learning_rate": 3e-4, "bc.hidden_sizes": "[64, 64]",
                                            "bc.clip": "null", "options.seed": 0, "options.progress": False,
                                            "options.checkpoint_every_s": "Infinity"}


def test_online_wandb_without_a_key_is_one_line_and_no_run_folder(world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc holding a key
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    runs = tmp_path / "runs"
    code = main(["train", "bc", "CartPole-v1", "--demos", DEMOS, "--bc.num-steps", "200", "--runs-dir", str(runs),
                 "--no-progress", "--log", "wandb"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert "--log wandb: wandb could not start a run" in err[0] and "WANDB_MODE=offline" in err[0]
    assert list(runs.iterdir()) == []  # the run folder made before wandb refused is removed again
