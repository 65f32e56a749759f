"""`imitax plot`: curves of several runs with per-seed bands, final-score bars, PNG and SVG."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import imitax.cli as cli
from imitax.commands.plot import read_curve
from imitax.io.atomic import atomic_write_json
from imitax.io.checkpoint import save_checkpoint


def fake_cli_run(folder: Path, returns: list[float], scores: list[float] | None = None) -> Path:
    """A run folder as `imitax train` writes it: config.json, metrics.jsonl (seed-averaged), result.json."""
    folder.mkdir(parents=True)
    atomic_write_json(folder / "config.json", {"env_id": "CartPole-v1"})
    rows = [{"env_steps": 1000 * (i + 1), "episode_return": r, "disc_loss": 1.0} for i, r in enumerate(returns)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    if scores is not None:
        atomic_write_json(folder / "result.json", {"seed_normalized_scores": scores})
    return folder


def fake_saved_result(folder: Path, history: np.ndarray) -> Path:
    """A TrainResult.save folder: config.json and history/ with per-seed curves [seeds, points]."""
    folder.mkdir(parents=True)
    atomic_write_json(folder / "config.json", {"method": "gail"})
    save_checkpoint(folder / "history", {"episode_return": history}, {"kind": "history", "num_seeds": len(history)})
    return folder


def test_runs_of_a_folder_are_pooled_as_seeds_on_a_common_x(tmp_path):
    sweep = tmp_path / "gail-seeds"
    fake_cli_run(sweep / "seed0", [10.0, 20.0, 30.0], [0.5])
    fake_cli_run(sweep / "seed1", [12.0, 22.0], [0.7])
    (sweep / "not-a-run").mkdir()
    curve = read_curve(sweep, "gail", "episode_return")
    assert curve.x_name == "env_steps" and curve.x.tolist() == [1000, 2000, 3000]
    np.testing.assert_array_equal(curve.values, [[10, 20, 30], [12, 22, np.nan]])
    assert curve.final_scores == (0.5, 0.7)
    saved = read_curve(fake_saved_result(tmp_path / "saved", np.arange(12.0).reshape(3, 4)), "saved", "episode_return")
    assert saved.values.shape == (3, 4) and saved.x_name == "point"


def test_plot_writes_png_and_svg_with_iqm_summary(tmp_path, capsys):
    a = tmp_path / "a"
    for seed, offset in enumerate((0.0, 5.0, 10.0, 100.0)):  # one outlier seed: the IQM trims it
        fake_cli_run(a / f"s{seed}", [offset + 1, offset + 2], [0.9 + 0.01 * seed])
    b = fake_cli_run(tmp_path / "b", [3.0, 4.0], [0.2])
    output = tmp_path / "cmp.png"
    assert cli.main(["plot", str(a), str(b), "--labels", "GAIL", "BC", "--output", str(output), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in output.with_suffix(".svg").read_bytes()[:500]
    gail, bc = out["curves"]
    assert (gail["label"], gail["seeds"], bc["seeds"]) == ("GAIL", 4, 1)
    assert gail["last_iqm"] == pytest.approx(np.mean([7.0, 12.0]))  # middle two of 2, 7, 12, 102
    assert bc["final_score_iqm"] == pytest.approx(0.2) and 0.9 <= gail["final_score_iqm"] <= 0.93


@pytest.mark.parametrize("case, words", [
    ("missing", "not a folder; expected a run folder"),
    ("empty", "no run folder"),
    ("metric", "no run records the metric 'kl'; expected one of the metrics.jsonl columns (disc_loss, env_steps, episode_return)"),
    ("suffix", "expected a .png file name"),
    ("labels", "--labels has 1 names for 2 runs"),
    ("bad-result", "seed_normalized_scores is 'high'; expected a list of finite numbers"),
])
def test_bad_plot_input_is_one_line_and_writes_nothing(tmp_path, capsys, case, words):
    run = fake_cli_run(tmp_path / "run", [1.0, 2.0], [0.5])
    (tmp_path / "empty").mkdir()
    argv = {"missing": [str(tmp_path / "nope")], "empty": [str(tmp_path / "empty")],
            "metric": [str(run), "--metric", "kl"], "suffix": [str(run), "--output", str(tmp_path / "x.jpg")],
            "labels": [str(run), str(run), "--labels", "one"], "bad-result": [str(run)]}[case]
    if case == "bad-result":
        (run / "result.json").write_text(json.dumps({"seed_normalized_scores": "high"}))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert cli.main(["plot", *argv, "--output", str(tmp_path / "out.png")] if case != "suffix" else ["plot", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_the_training_monitor_imports_matplotlib_in_the_background_when_training_starts():
    """A command's first progress report starts matplotlib's import on another thread (the learning
    curve drawn after training then need not wait for it); it is not imported before that."""
    code = ("import sys, numpy as np\n"
            "from imitax.commands.progress import TrainingMonitor\n"
            "from imitax.io import plots\n"
            "monitor = TrainingMonitor(None, None, total=10, per_iteration=1, unit='env_steps')\n"
            "before = 'matplotlib.figure' in sys.modules\n"
            "monitor(1, {'loss': np.zeros((1, 1))})\n"
            "plots._preloading[0].join()\n"
            "print(before, 'matplotlib.figure' in sys.modules, 'matplotlib.backends.backend_agg' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]
