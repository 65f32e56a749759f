"""The `imitax` command: the whole flow with small budgets, --json, and user mistakes."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from imitax.cli import main
from imitax.commands.wall_time import PHASES
from imitax.data.types import Transitions
from imitax.io.reward_checkpoint import load_reward


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
    results["bc"] = run(["train", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--bc.num-steps", "200", "--bc.log-every", "100",
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
    # BC's budget and its metric rows count gradient steps (one row per --bc.log-every)
    assert flow["bc"]["gradient_steps"] == 200
    rows = [json.loads(line) for line in Path(flow["bc"]["run_dir"], "metrics.jsonl").read_text().splitlines()]
    assert [row["gradient_steps"] for row in rows] == [100, 200] and "epochs" not in rows[0]
    assert Path(flow["gail"]["run_dir"], "reward", "params.msgpack").exists()
    config = json.loads(Path(flow["gail"]["run_dir"], "config.json").read_text())
    assert config["gail"]["ppo"]["total_steps"] == 20480 and config["gail"]["ppo"]["learning_rate"] == 3e-4


def test_flow_reports_where_wall_time_went(flow):
    for name in ("expert", "bc", "gail", "rl", "collect"):
        timing = flow[name]["wall_time"]
        phases = sum(timing[f"{phase}_s"] for phase in PHASES) + timing["other_s"]
        assert timing["total_s"] == pytest.approx(phases, abs=0.01), name
        if name != "collect":  # --json printed what result.json holds
            assert json.loads(Path(flow[name]["run_dir"], "result.json").read_text())["wall_time"] == timing
            assert timing["train_s"] > 0 and timing["evaluate_s"] > 0 and timing["save_s"] > 0, (name, timing)
            assert 0 < timing["compile_s"] < timing["total_s"], (name, timing)
    assert flow["bc"]["wall_time"]["load_s"] > 0 and flow["gail"]["wall_time"]["plot_s"] > 0


def test_off_policy_flow_sac_expert_then_sqil_dac_iq_learn_and_sac_airl(tmp_path, monkeypatch):
    """expert --algo sac (it learns: SAC's learning test) -> collect -> train sqil / dac / iq-learn
    (online and offline) / airl with the SAC generator -> train rl on DAC's reward, IQ-Learn's and
    AIRL's loaded: tiny budgets after the expert's."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    quiet = ["--runs-dir", str(tmp_path / "runs"), "--json", "--no-progress"]
    common = [*quiet, "--eval-episodes", "3"]

    def run(args):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(args)
        assert code == 0, (args, buffer.getvalue())
        return json.loads(buffer.getvalue().strip().splitlines()[-1])

    small = ["--sac.hidden-sizes", "64", "64", "--sac.batch-size", "128", "--sac.learning-starts", "1000"]
    # SAC learns Pendulum in 8k env steps at 64x64, batch 128: random actions score about -1,220 and
    # a PPO expert -160; this run -173 over 20 episodes, three vmapped `train_sac` runs -233, -201, -241
    # (2026-11-29)
    expert = run(["expert", "Pendulum-v1", "--algo", "sac", "--sac.total-steps", "8000", *small, *quiet,
                  "--eval-episodes", "20"])
    assert expert["algo"] == "sac" and expert["env_steps"] == 8000 and expert["beats_random"]
    meta = json.loads(Path(expert["run_dir"], "checkpoint", "meta.json").read_text())
    assert meta["policy"]["kind"] == "squashed_gaussian" and meta["algorithm"] == "sac"
    run(["collect", "Pendulum-v1", "--expert", expert["run_dir"], "--episodes", "2", "--reference-episodes", "3",
         "--dataset-id", "pendulum/sac-v0", "--json"])
    runs = {}
    for algo in ("sqil", "dac", "iq-learn", "airl"):
        generator = ["--airl.generator", "sac"] if algo == "airl" else []  # AIRL, off-policy
        result = run(["train", algo, "Pendulum-v1", "--demos", "pendulum/sac-v0", f"--{algo}.sac.total-steps", "1200",
                      *[arg.replace("--sac.", f"--{algo}.sac.") for arg in small], *generator, *common])
        assert result["command"] == f"train {algo}" and result["env_steps"] == 1200
        assert Path(result["run_dir"], "checkpoint", "params.msgpack").exists()
        # SQIL learns no reward to keep
        assert Path(result["run_dir"], "reward").exists() == (algo != "sqil")
        runs[algo] = result
    offline = run(["train", "iq-learn", "Pendulum-v1", "--demos", "pendulum/sac-v0", "--iq-learn.offline",
                   "--iq-learn.sac.total-steps", "600", "--iq-learn.sac.hidden-sizes", "64", "64", *common])
    assert offline["env_steps"] == 0 and offline["gradient_steps"] == 600
    rows = [json.loads(line) for line in Path(offline["run_dir"], "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["gradient_steps"] == 600 and "critic_loss" in rows[-1]
    # `train rl` runs on DAC's reward; IQ-Learn's and off-policy AIRL's load as it would read them
    rl = run(["train", "rl", "Pendulum-v1", "--reward", runs["dac"]["run_dir"], "--ppo.total-steps", "4096", *common])
    assert rl["reward_algorithm"] == "dac"
    for algo in ("iq-learn", "airl"):  # jitted on a [T, N] batch, as PPO's update calls it
        reward_fn, spec, meta = load_reward(runs[algo]["run_dir"])
        obs = jnp.zeros((2, 3, spec.obs_dim))
        rewards = jax.jit(reward_fn)(Transitions(obs, jnp.zeros((2, 3, 1)), jnp.zeros((2, 3)), obs,
                                                 jnp.zeros((2, 3), bool).at[:, 1].set(True), jnp.zeros((2, 3), bool)))
        assert meta["algorithm"] == algo and rewards.shape == (2, 3) and bool(jnp.all(jnp.isfinite(rewards)))
    # SAC's learning check, last so that a weaker expert does not hide the commands' checks above
    assert expert["mean_return"] > -300, expert["mean_return"]


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


# User mistakes (exit 2, one stderr line, nothing left behind) are listed in tests/test_bad_inputs.py.


def test_cli_process_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "imitax.cli", "train", "gail", "NoSuchEnv-v9", "--demos", "x/y-v0"],
                          capture_output=True, text=True, env={"MINARI_DATASETS_PATH": str(tmp_path), "PATH": ""})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "NoSuchEnv-v9" in proc.stderr
