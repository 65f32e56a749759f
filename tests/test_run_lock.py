"""A run folder has one writer (issue 10, item 3): the lock, its refusal, stale locks, the CLI."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import imitax.commands.expert as expert_command
import imitax.io.run_lock as run_lock_module
from imitax.cli import main
from imitax.commands.expert import ExpertArgs
from imitax.errors import RunLockedError
from imitax.io.run_dir import MetricsWriter, write_config
from imitax.io.run_lock import LOCK_FILE, holder_pid, run_lock

HOLDER = """
import sys
from imitax.io.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def lock_holder(run_dir: Path) -> Iterator[subprocess.Popen]:
    """Another process holding `run_dir`'s lock until the block ends (or the test kills it)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()


def hashes(folder: Path) -> dict[str, str]:
    """Every path under `folder` (hidden ones too) -> a hash of its bytes, or "dir"."""
    return {path.relative_to(folder).as_posix(): "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))}


def test_a_second_writer_in_the_same_process_is_refused_naming_the_holder(tmp_path):
    with run_lock(tmp_path) as lock_file:
        assert lock_file == tmp_path / LOCK_FILE and holder_pid(tmp_path) == os.getpid()
        with pytest.raises(RunLockedError) as refused, run_lock(tmp_path):
            pass
    message = str(refused.value)
    assert f"run folder {tmp_path} is being written by process {os.getpid()}" in message
    assert "wait for it to finish or stop it" in message and "\n" not in message
    with run_lock(tmp_path):  # released at the end of the block
        pass


def test_a_lock_held_by_another_process_is_refused_until_it_exits(tmp_path):
    with lock_holder(tmp_path) as holder:
        assert holder_pid(tmp_path) == holder.pid
        with pytest.raises(RunLockedError, match=f"by process {holder.pid}, "), run_lock(tmp_path):
            pass
    with run_lock(tmp_path):
        assert holder_pid(tmp_path) == os.getpid()


def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    with lock_holder(tmp_path) as holder:
        holder.kill()  # SIGKILL: no cleanup runs, the lock file stays with its PID
        holder.wait(timeout=30)
        assert holder_pid(tmp_path) == holder.pid
        with run_lock(tmp_path):
            assert holder_pid(tmp_path) == os.getpid()


def test_without_fcntl_the_lock_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.setattr(run_lock_module, "fcntl", None)
    with run_lock(tmp_path), run_lock(tmp_path):
        pass
    assert not (tmp_path / LOCK_FILE).exists()


def test_resume_of_a_run_another_process_writes_is_refused_and_changes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "busy"
    run_dir.mkdir(parents=True)
    write_config(run_dir, ExpertArgs.defaults("CartPole-v1"))
    # Metric rows but no saved state: a resume that went ahead would truncate the metrics files.
    with MetricsWriter(run_dir) as metrics:
        metrics.write({"env_steps": 2048, "episode_return": 20.0})
        metrics.write({"env_steps": 4096, "episode_return": 31.0})
    with lock_holder(run_dir) as holder:
        before = hashes(run_dir)
        code = main(["expert", "--resume", str(run_dir), "--no-progress"])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert hashes(run_dir) == before
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith("imitax expert: error: ")
    assert f"run folder {run_dir} is being written by process {holder.pid}" in err[0]
    assert "wait for it to finish or stop it" in err[0]


class Stop(Exception):
    pass


def test_a_new_run_is_locked_while_its_command_runs_and_released_after(tmp_path, monkeypatch):
    seen = {}

    def fake_train_ppo(env, config, *, checkpoint, **kwargs):
        run_dir = checkpoint.folder.parent
        seen["holder"] = holder_pid(run_dir)
        with pytest.raises(RunLockedError), run_lock(run_dir):
            pass
        raise Stop  # not an ImitaxError: the CLI lets it through and keeps the folder

    monkeypatch.setattr(expert_command, "train_ppo", fake_train_ppo)
    with pytest.raises(Stop):
        main(["expert", "CartPole-v1", "--runs-dir", str(tmp_path), "--name", "new", "--no-progress"])
    assert seen["holder"] == os.getpid()
    with run_lock(tmp_path / "new"):
        pass
