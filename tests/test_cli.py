"""The `imitax` command: the whole flow with small budgets, --json, and user mistakes."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imitax.cli import main


def _last_json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """expert -> collect -> train bc -> train gail, tiny budgets (the flow, not the quality)."""
    root = tmp_path_factory.mktemp("cli")
    runs, minari = root / "runs", root / "minari"
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(minari))
    results = {}
    common = ["--runs-dir", str(runs), "--json", "--no-progress"]
    def run(args):  # capsys is function scoped: capture stdout here
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(args)
        assert code == 0, (args, buffer.getvalue())
        return json.loads(buffer.getvalue().strip().splitlines()[-1])

    results["expert"] = run(["expert", "CartPole-v1", "--ppo.total-steps", "40960", "--eval-episodes", "5", *common])
    results["collect"] = run(["collect", "CartPole-v1", "--episodes", "3", "--reference-episodes", "5",
                              "--runs-dir", str(runs), "--json"])
    results["bc"] = run(["train", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--bc.num-epochs", "10",
                         "--num-seeds", "2", "--eval-episodes", "5", *common])
    results["gail"] = run(["train", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0",
                           "--gail.ppo.total-steps", "20480", "--eval-episodes", "5", *common])
    results["rl"] = run(["train", "rl", "CartPole-v1", "--reward", results["gail"]["run_dir"],
                         "--ppo.total-steps", "20480", "--eval-episodes", "5", *common])
    results["root"] = root
    yield results
    mp.undo()


def test_flow_writes_run_folders(flow):
    for name in ("expert", "bc", "gail"):
        run_dir = flow[name]["run_dir"]
        for file in ("config.json", "metrics.csv", "metrics.jsonl", "curve.png", "summary.md", "result.json",
                     "checkpoint/params.msgpack", "checkpoint/meta.json"):
            assert Path(run_dir, file).exists(), (name, file)
    assert flow["collect"]["episodes"] == 3 and flow["collect"]["dataset_id"] == "cartpole/expert-v0"
    assert len(flow["bc"]["seed_normalized_scores"]) == 2
    assert Path(flow["gail"]["run_dir"], "reward", "params.msgpack").exists()
    config = json.loads(Path(flow["gail"]["run_dir"], "config.json").read_text())
    assert config["gail"]["ppo"]["total_steps"] == 20480 and config["gail"]["ppo"]["learning_rate"] == 1e-3


def test_train_rl_on_learned_reward(flow):
    rl = flow["rl"]
    assert rl["reward_algorithm"] == "gail" and rl["reference"] == flow["gail"]["reference"]
    assert Path(rl["run_dir"], "checkpoint", "meta.json").exists() and rl["env_steps"] == 20480


def test_reward_checkpoint_errors(flow):
    from imitax.errors import CheckpointError
    from imitax.io.reward_checkpoint import load_reward

    with pytest.raises(CheckpointError, match="expected a 'reward' checkpoint"):
        load_reward(Path(flow["bc"]["run_dir"], "checkpoint"))
    reward_fn, spec, meta = load_reward(flow["gail"]["run_dir"])
    assert spec.env_id == "CartPole-v1" and meta["algorithm"] == "gail"


def test_eval_json(flow, capsys, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(flow["root"] / "minari"))
    assert main(["eval", flow["bc"]["run_dir"], "--episodes", "5", "--json"]) == 0
    result = _last_json(capsys)
    assert result["num_episodes"] == 5 and "normalized_score" in result
    assert result["reference"] == flow["bc"]["reference"]


@pytest.mark.parametrize("args, message", [
    (["expert", "CartPoel-v1"], "known JAX ids: CartPole-v1"),
    (["train", "bc", "CartPole-v1", "--demos", "nobody/nothing-v0"], "no Minari dataset 'nobody/nothing-v0'"),
    (["train", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", "--gail.ppo.learning-rate", "-1"], "learning_rate must be > 0"),
    (["train", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", "--gail.disc-steps", "0"], "disc_steps must be > 0"),
    (["train", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--bc.batch-size", "0"], "batch_size must be > 0"),
    (["train", "bc", "Pendulum-v1", "--demos", "cartpole/expert-v0"], "another environment"),
    (["eval", "/no/such/run"], "does not exist"),
    (["collect", "Acrobot-v1", "--runs-dir", "/no/such/runs"], "no expert for Acrobot-v1"),
    (["train", "dagger", "CartPole-v1"], "unknown command 'train dagger'"),
    (["train", "rl", "CartPole-v1", "--reward", "/no/such/run"], "does not exist"),
    (["fly"], "unknown command 'fly'"),
])
def test_user_mistakes_exit_2_with_one_line(flow, capsys, monkeypatch, args, message):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(flow["root"] / "minari"))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_cli_process_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "imitax.cli", "train", "gail", "NoSuchEnv-v9", "--demos", "x/y-v0"],
                          capture_output=True, text=True, env={"MINARI_DATASETS_PATH": str(tmp_path), "PATH": ""})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "NoSuchEnv-v9" in proc.stderr
