"""`imitax expert`: a weak expert is saved and reported in one line with a non-zero exit (issue 9, item 3)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

import imitax
from imitax.cli import main
from imitax.commands.expert import CLEAR_MARGIN, ExpertArgs, expected_return, is_mujoco, solved_level


def run_cli(args: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(args)
    return code, stdout.getvalue(), stderr.getvalue()


def test_expected_return_is_part_way_to_the_solved_level_or_a_margin_over_random():
    assert expected_return(-200.0, -110.0) == pytest.approx(-200.0 + CLEAR_MARGIN * 90.0)
    assert expected_return(20.0, 475.0) == pytest.approx(20.0 + CLEAR_MARGIN * 455.0)
    # no solved level, or one that random already reaches: a margin relative to |random|
    assert expected_return(-1200.0, None) == pytest.approx(-1200.0 + CLEAR_MARGIN * 1200.0)
    assert expected_return(0.0, None) == pytest.approx(CLEAR_MARGIN)
    assert expected_return(10.0, 5.0) == pytest.approx(10.0 + CLEAR_MARGIN * 10.0)


def test_solved_levels_come_from_gymnasium_specs():
    assert solved_level("MountainCar-v0") == -110.0
    assert solved_level("CartPole-v1") == 475.0
    assert solved_level("Pendulum-v1") is None
    assert solved_level("no-such-module:NoSuchEnv-v0") is None


def test_weak_expert_is_saved_and_reported_in_one_line(tmp_path):
    code, stdout, stderr = run_cli(["expert", "CartPole-v1", "--ppo.total-steps", "2048", "--eval-episodes", "5",
                                    "--no-progress", "--runs-dir", str(tmp_path), "--name", "weak"])
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    message = lines[0]
    for part in ("does not beat random by a clear margin", "mean return", "random", "expected at least",
                 "solved level 475", "--ppo.total-steps (now 2,048)", str(tmp_path / "weak")):
        assert part in message, (part, message)
    run_dir = tmp_path / "weak"  # kept for inspection, complete
    for file in ("config.json", "result.json", "summary.md", "checkpoint/params.msgpack", "checkpoint/meta.json"):
        assert (run_dir / file).exists(), file
    result = json.loads((run_dir / "result.json").read_text())
    assert result["beats_random"] is False and result["solved"] is False
    assert result["mean_return"] < result["reference"]["expected"]


def test_expert_no_better_than_random_does_not_crash(tmp_path):
    """MountainCar after one update scores exactly random's -200: equal references, reported, not divided by."""
    code, stdout, stderr = run_cli(["expert", "MountainCar-v0", "--ppo.total-steps", "2048", "--eval-episodes", "5",
                                    "--no-progress", "--runs-dir", str(tmp_path), "--json", "--allow-weak-expert"])
    assert code == 0
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["mean_return"] == result["reference"]["random"] == -200.0
    assert result["beats_random"] is False
    assert "Traceback" not in stderr and "ZeroDivision" not in stderr
    assert "warning" in stderr and "does not beat random" in stderr
    assert Path(result["run_dir"], "checkpoint", "params.msgpack").exists()


@pytest.mark.parametrize("env_id", ["InvertedDoublePendulum-v5", "Reacher-v5"])
def test_saved_mujoco_experts_load_with_their_references(env_id):
    from imitax.io.policy_checkpoint import load_policy

    folder = Path(__file__).parent.parent / "benchmarks" / "experts" / env_id
    policy, params, meta = load_policy(folder)
    assert policy.spec.env_id == env_id
    assert meta["expert_return"] >= expected_return(meta["random_return"], solved_level(env_id))


def test_expert_algo_auto_picks_sac_for_mujoco_box_tasks_only():
    assert is_mujoco("Hopper-v5") and is_mujoco("InvertedDoublePendulum-v5")
    assert not is_mujoco("Pendulum-v1") and not is_mujoco("point_mass:imitax_test/PointMass-v0")
    box = type("Env", (), {"spec": imitax.make("Pendulum-v1").spec})()
    assert ExpertArgs("Pendulum-v1").resolved_algo(box) == "ppo"
    assert ExpertArgs("Reacher-v5").resolved_algo(box) == "sac"
    assert ExpertArgs("Reacher-v5", algo="ppo").resolved_algo(box) == "ppo"
