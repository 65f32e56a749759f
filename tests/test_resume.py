"""Checkpoint and resume, the divergence guard, reproducibility (issue 4, parts 1, 5, 6)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import imitax
from imitax.algos.bc import BCConfig, train_bc
from imitax.cli import main
from imitax.errors import DivergenceError
from imitax.io.resume import ResumeCheckpoint
from imitax.io.run_dir import read_metrics
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo


class Interrupted(Exception):
    pass


def interrupt_after(iterations: int):
    def on_chunk(done: int, metrics: dict) -> None:
        if done >= iterations:
            raise Interrupted
    return on_chunk


def assert_trees_equal(a, b) -> None:
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_interrupted_jax_run_resumes_bit_exact(tmp_path, monkeypatch):
    """A run interrupted and resumed ends bit for bit as the uninterrupted run, compiled for a carry
    of the same types (weak types included) as a fresh run's: so it finds the fresh run's program
    in the compilation cache instead of compiling its own."""
    import imitax.rl.loop as loop

    compiled_for = []  # the avals of each carry run_compiled lowers its program for
    shard = loop.shard_runs
    monkeypatch.setattr(loop, "shard_runs", lambda carry: compiled_for.append(
        [jax.typeof(leaf) for leaf in jax.tree.leaves(carry)]) or shard(carry))
    env = imitax.make("CartPole-v1")
    config = PPOConfig.for_env("CartPole-v1", total_steps=20 * 2048)
    uninterrupted = train_ppo(env, config, seed=3, num_seeds=2)
    with pytest.raises(Interrupted):
        train_ppo(env, config, seed=3, num_seeds=2, on_chunk=interrupt_after(7),
                  checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    resumed = train_ppo(env, config, seed=3, num_seeds=2, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    assert len(compiled_for) == 3 and compiled_for[2] == compiled_for[0]
    assert_trees_equal(uninterrupted.state, resumed.state)
    for name, values in uninterrupted.history.items():
        np.testing.assert_array_equal(values, resumed.history[name])


def test_a_resumed_run_trains_at_its_configs_learning_rate_and_keeps_an_adaptive_one(tmp_path):
    """Rates live in the saved state (imitax.rl.rates), yet a run resumed with another
    --ppo.learning-rate trains at the new one, as when rates were compiled in; PPO's
    KL-adapted rate is learner state and resumes as saved."""
    from imitax.rl import rates

    env = imitax.make("CartPole-v1")
    config = PPOConfig.for_env("CartPole-v1", total_steps=8 * 2048, anneal_lr=False)
    for adaptive in (False, True):
        folder = tmp_path / f"adaptive-{adaptive}"
        start = config if not adaptive else PPOConfig.for_env("CartPole-v1", total_steps=8 * 2048, target_kl=1e-4)
        with pytest.raises(Interrupted):
            train_ppo(env, start, seed=0, on_chunk=interrupt_after(3), checkpoint=ResumeCheckpoint(folder, every_s=0))
        changed = dataclasses.replace(start, learning_rate=start.learning_rate / 7)
        resumed = train_ppo(env, changed, seed=0, checkpoint=ResumeCheckpoint(folder, every_s=0))
        final_rate = float(rates.rate(resumed.state.opt_state)[0])
        if adaptive:  # the adapted rate went on from where it was saved: as if never interrupted
            assert final_rate == pytest.approx(float(rates.rate(train_ppo(env, start, seed=0).state.opt_state)[0]))
        else:
            assert final_rate == pytest.approx(changed.learning_rate)


def test_interrupted_host_run_completes_without_gaps(tmp_path):
    env = imitax.make("CartPole-v1", backend="gymnasium")
    config = PPOConfig.for_env("CartPole-v1", total_steps=8 * 2048)
    with pytest.raises(Interrupted):
        train_ppo(env, config, seed=1, on_chunk=interrupt_after(3), checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    resumed = train_ppo(env, config, seed=1, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    assert resumed.history["policy_loss"].shape == (1, 8)
    assert np.isfinite(resumed.history["policy_loss"]).all()


def test_host_runs_step_together_and_resume_where_they_stopped(tmp_path):
    """Two seeds on a Gymnasium env step together (one vector env, act and update vmapped over
    the runs): each is the run its seed makes alone (the same first rollout, losses within
    float rounding of a vmapped update); interrupted in its second of 4 iterations (the checkpoint
    holds the first: it is written after on_chunk), every run resumes there, its saved iteration
    kept as it was and the other three trained once."""
    env = imitax.make("CartPole-v1", backend="gymnasium")
    config = PPOConfig.for_env("CartPole-v1", total_steps=4 * 2048)
    straight = train_ppo(env, config, seed=2, num_seeds=2)
    assert straight.history["policy_loss"].shape == (2, 4) and np.isfinite(straight.history["policy_loss"]).all()
    alone = train_ppo(env, config, seed=3)  # the second seed's run on its own
    assert straight.history["episode_return"][1, 0] == alone.history["episode_return"][0, 0]
    np.testing.assert_allclose(straight.history["policy_loss"][1], alone.history["policy_loss"][0], atol=1e-5)
    assert straight.history["policy_loss"][0, 0] != straight.history["policy_loss"][1, 0]  # two runs, not one twice

    with pytest.raises(Interrupted):
        train_ppo(env, config, seed=2, num_seeds=2, on_chunk=interrupt_after(2),
                  checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    resumed = train_ppo(env, config, seed=2, num_seeds=2, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    np.testing.assert_array_equal(resumed.history["policy_loss"][:, :1], straight.history["policy_loss"][:, :1])
    assert np.isfinite(resumed.history["policy_loss"]).all()
    np.testing.assert_array_equal(np.asarray(resumed.state.update_step), np.asarray(straight.state.update_step))


def test_an_older_multi_seed_gymnasium_checkpoint_is_refused_with_what_it_is(tmp_path):
    """Before the seeds of a Gymnasium run stepped together, its checkpoint held (state, key) per
    run; resuming one says so, and what to do, and leaves it as it was."""
    from imitax.errors import CheckpointError
    from imitax.io.checkpoint import load_checkpoint, save_checkpoint

    env = imitax.make("CartPole-v1", backend="gymnasium")
    config = PPOConfig.for_env("CartPole-v1", total_steps=4 * 2048)
    with pytest.raises(Interrupted):
        train_ppo(env, config, seed=2, num_seeds=2, on_chunk=interrupt_after(2),
                  checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    folder = ResumeCheckpoint(tmp_path, every_s=0).folder
    state, meta = load_checkpoint(folder)
    for run in state["carry"].values():  # the older form: (state, key) per run, no iteration count
        del run["2"]
    save_checkpoint(folder, state, meta)
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    with pytest.raises(CheckpointError, match=r"/0/2 is missing.*older imitax's multi-seed Gymnasium checkpoint.*anew"):
        train_ppo(env, config, seed=2, num_seeds=2, checkpoint=ResumeCheckpoint(tmp_path, every_s=0))
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_state(tmp_path, cartpole_expert):
    checkpoint = ResumeCheckpoint(tmp_path, every_s=0)
    demos = cartpole_expert.demos
    config = BCConfig(num_steps=200, log_every=50, eval_episodes=0)
    with pytest.raises(DivergenceError, match="learning rate") as caught:
        train_bc(demos, cartpole_expert.env.spec, BCConfig(num_steps=200, log_every=50, eval_episodes=0, learning_rate=1e30),
                 checkpoint=checkpoint)
    assert "NaN" in str(caught.value) or "infinite" in str(caught.value)
    assert not checkpoint.exists()  # nothing non-finite was ever saved

    good = ResumeCheckpoint(tmp_path / "good", every_s=0)
    train_bc(demos, cartpole_expert.env.spec, config, checkpoint=good)
    saved = json.loads((good.folder / "meta.json").read_text())
    assert saved["iterations"] == 4
    with pytest.raises(DivergenceError):  # resuming into a diverging continuation keeps the saved state
        train_bc(demos, cartpole_expert.env.spec, BCConfig(num_steps=400, log_every=50, eval_episodes=0,
                                                           learning_rate=1e30), checkpoint=good)
    assert json.loads((good.folder / "meta.json").read_text())["iterations"] == 4


def _kill_part_way(args: list[str], run_dir: Path) -> None:
    """Start `imitax ARGS` in a subprocess and SIGKILL it once a training state is saved."""
    process = subprocess.Popen([sys.executable, "-m", "imitax.cli", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    meta = run_dir / "resume" / "meta.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if meta.is_file() and json.loads(meta.read_text()).get("iterations", 0) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run_dir / "result.json").exists()


# SIGKILL and resume, byte for byte, is tested on `imitax train gail` (below), whose run folder,
# metrics and checkpoint code every training command shares; a killed `imitax expert` is tested
# on Gymnasium (no gap, no duplicate), and PPO interrupted in-process resumes bit for bit (above).


# The files of a run folder that record wall time (or the writer's PID), listed in
# docs/formats.md; every other file of a resumed run is byte-identical to an uninterrupted one.
WALL_TIME_FILES = {".lock", "result.json", "summary.md"}
WALL_TIME_KEYS = {"wall_time", "compile_s", "train_s", "run_dir", "env_steps_per_s"}


def _files(run_dir: Path) -> set[str]:
    return {str(path.relative_to(run_dir)) for path in run_dir.rglob("*") if path.is_file()}


@pytest.mark.slow
def test_sigkill_then_resume_on_gymnasium_completes_without_gap_or_duplicate(tmp_path):
    runs = tmp_path / "runs"
    args = ["expert", "CartPole-v1", "--backend", "gymnasium", "--ppo.total-steps", "40960", "--eval-episodes", "3",
            "--no-progress", "--runs-dir", str(runs), "--name", "gym", "--checkpoint-every-s", "0"]
    _kill_part_way(args, runs / "gym")
    assert main(["expert", "--resume", str(runs / "gym"), "--no-progress"]) == 0
    steps = [row["env_steps"] for row in read_metrics(runs / "gym")]
    assert steps == sorted(set(steps)) and steps[-1] == 40960
    assert np.all(np.diff(steps) == steps[0])
    assert json.loads((runs / "gym" / "result.json").read_text())["env_steps"] == 40960


def test_same_seed_and_config_give_the_same_metrics_file(tmp_path):
    command = ["expert", "CartPole-v1", "--ppo.total-steps", "20480", "--eval-episodes", "3", "--no-progress",
               "--runs-dir", str(tmp_path), "--seed", "5"]
    assert main([*command, "--name", "a"]) == 0
    assert main([*command, "--name", "b"]) == 0
    assert (tmp_path / "a" / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()
    assert (tmp_path / "a" / "checkpoint" / "params.msgpack").read_bytes() == \
        (tmp_path / "b" / "checkpoint" / "params.msgpack").read_bytes()
    assert main([*command, "--name", "c", "--seed", "6"]) == 0
    assert (tmp_path / "a" / "metrics.jsonl").read_text() != (tmp_path / "c" / "metrics.jsonl").read_text()


def test_resume_of_a_folder_without_a_run_is_refused(tmp_path, capsys):
    assert main(["expert", "--resume", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.json" in err[0] and "earlier run" in err[0]


def test_a_refused_resume_leaves_the_run_as_it_was(demos_root, tmp_path, capsys):
    """--resume with a network that does not fit the saved state is refused after config.json
    was rewritten and the metrics reopened: the folder is put back byte for byte, so the run
    still resumes with its own options."""
    command = ["train", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--bc.num-steps", "400", "--bc.log-every",
               "100", "--eval-episodes", "2", "--no-progress", "--runs-dir", str(tmp_path), "--name", "run",
               "--checkpoint-every-s", "0"]
    assert main(command) == 0
    run = tmp_path / "run"
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    resume = ["train", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--resume", str(run), "--no-progress"]
    # another process, as a user's next command is: its PID in the lock file is put back too
    refused = subprocess.run([sys.executable, "-m", "imitax.cli", *resume, "--bc.hidden-sizes", "32"],
                             capture_output=True, text=True, check=False)
    err = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(err) == 1 and "another architecture" in err[0], err
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert main(resume) == 0  # the run is intact


@pytest.mark.slow
def test_sigkill_of_train_gail_then_resume_equals_an_uninterrupted_run(demos_root, tmp_path):
    """The same byte-for-byte resume as `imitax expert`'s, for an adversarial run: the
    discriminator, its optimizer and the generator all come back."""
    runs = tmp_path / "runs"

    def command(name: str) -> list[str]:
        return ["train", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", "--gail.ppo.total-steps", "102400",
                "--eval-episodes", "3", "--no-progress", "--runs-dir", str(runs), "--name", name,
                "--checkpoint-every-s", "0"]

    assert main(command("straight")) == 0
    _kill_part_way(command("killed"), runs / "killed")
    assert main(["train", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", "--resume", str(runs / "killed"),
                 "--no-progress"]) == 0
    straight, killed = runs / "straight", runs / "killed"
    files = _files(straight)
    assert files == _files(killed) and {"metrics.csv", "checkpoint/params.msgpack", "reward/params.msgpack"} <= files
    differ = [name for name in sorted(files - WALL_TIME_FILES - {"config.json"})
              if (straight / name).read_bytes() != (killed / name).read_bytes()]
    assert differ == []
    assert (straight / "config.json").read_text().replace('"straight"', '"killed"') == (killed / "config.json").read_text()
    drop = lambda result: {k: v for k, v in result.items() if k not in WALL_TIME_KEYS}  # noqa: E731
    assert drop(json.loads((straight / "result.json").read_text())) == drop(json.loads((killed / "result.json").read_text()))


@pytest.mark.slow
def test_sigkill_of_collect_while_it_writes_leaves_no_dataset_and_the_others_intact(tmp_path, monkeypatch):
    """`imitax collect` killed while it writes the dataset: no dataset appears under the id,
    an existing dataset keeps its bytes, and the next collect removes what the killed one left."""
    from imitax.data.minari_io import STAGING_PREFIX, load_demonstrations
    from shipped_experts import EXPERTS

    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    expert = ["--expert", str(EXPERTS / "CartPole-v1"), "--reference-episodes", "2"]
    assert main(["collect", "CartPole-v1", *expert, "--episodes", "2", "--dataset-id", "cartpole/keep-v0"]) == 0
    keep = {p: p.read_bytes() for p in (root / "cartpole").rglob("*") if p.is_file()}
    # 600 episodes take ~2.5 s to write here (2026-11-29): time enough to kill the write part-way
    process = subprocess.Popen([sys.executable, "-m", "imitax.cli", "collect", "CartPole-v1", *expert, "--episodes",
                                "600", "--dataset-id", "cartpole/killed-v0"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not any(
            path.name.startswith(STAGING_PREFIX) for path in root.iterdir()):
        time.sleep(0.005)
    assert process.poll() is None, "collect finished before it could be killed while writing"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (root / "cartpole" / "killed-v0").exists()
    assert {p: p.read_bytes() for p in (root / "cartpole").rglob("*") if p.is_file()} == keep
    assert main(["collect", "CartPole-v1", *expert, "--episodes", "2", "--dataset-id", "cartpole/killed-v0"]) == 0
    assert not any(path.name.startswith(STAGING_PREFIX) for path in root.iterdir())
    assert len(load_demonstrations("cartpole/killed-v0").trajectories) == 2
