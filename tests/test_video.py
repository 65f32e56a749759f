"""Videos: `imitax eval RUN --video out.mp4` and a train command's `--video` (rollout.mp4),
read back with imageio-ffmpeg: frame count = sum over episodes of (length + 1), the reset frame
and one per step; a CartPole run (JAX backend, filmed through its Gymnasium twin) and a
MuJoCo policy (InvertedPendulum-v5, rendered headless)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import imageio_ffmpeg
import jax
import numpy as np
import pytest
from episodes import random_episode

from imitax.cli import main
from imitax.data.minari_io import save_demonstrations
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.spec import Discrete, EnvSpec
from imitax.io.policy_checkpoint import save_policy
from imitax.nets.policy import Policy

CARTPOLE = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
# imageio-ffmpeg starts ffmpeg with a fork+exec, which JAX warns about (harmless: exec follows at once)
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


def run_json(argv: list[str]) -> dict:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([*argv, "--json"])
    assert code == 0, stdout.getvalue()
    return json.loads(stdout.getvalue().splitlines()[-1])


def frames_of(path: Path) -> list[np.ndarray]:
    """Every decoded frame of an MP4, u8[height, width, 3]."""
    reader = imageio_ffmpeg.read_frames(str(path))
    width, height = next(reader)["size"]
    return [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader]


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory) -> dict:
    """A BC run on random CartPole demonstrations that keeps rollout.mp4."""
    root = tmp_path_factory.mktemp("video")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    rng = np.random.default_rng(0)
    save_demonstrations("cartpole/random-v0", [random_episode(rng, CARTPOLE, 20, True) for _ in range(3)], CARTPOLE,
                        expert_score=100.0, random_score=10.0)
    try:
        yield run_json(["train", "bc", "CartPole-v1", "--demos", "cartpole/random-v0", "--bc.num-steps", "100",
                        "--bc.log-every", "100", "--eval-episodes", "2", "--runs-dir", str(root / "runs"), "--no-progress",
                        "--video"])
    finally:
        mp.undo()


def test_train_video_keeps_one_episode_in_the_run_folder(cartpole_run):
    run_dir = Path(cartpole_run["run_dir"])
    video = run_dir / "rollout.mp4"
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert 2 <= frames <= CARTPOLE.max_episode_steps + 1
    assert "rollout.mp4" in (run_dir / "summary.md").read_text()
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".rollout")]  # no temporary left


def test_eval_video_of_a_cartpole_run(cartpole_run, tmp_path):
    out = tmp_path / "videos" / "cartpole.mp4"  # a missing folder is created
    result = run_json(["eval", cartpole_run["run_dir"], "--episodes", "2", "--video", str(out), "--video-episodes", "3"])
    lengths = result["video"]["episode_lengths"]
    assert len(lengths) == 3 and result["video"]["fps"] == 50
    frames = frames_of(out)
    assert len(frames) == result["video"]["frames"] == sum(length + 1 for length in lengths)
    assert frames[0].shape == (400, 600, 3) and frames[0].std() > 0  # the cart on a white background
    assert sorted(p.name for p in out.parent.iterdir()) == ["cartpole.mp4"]


def test_eval_video_of_a_mujoco_policy(tmp_path):
    spec = GymnasiumEnv("InvertedPendulum-v5").spec
    policy = Policy(spec, (16,), "tanh")
    save_policy(tmp_path / "policy", policy, policy.init(jax.random.PRNGKey(0)), algorithm="bc")
    out = tmp_path / "pendulum.mp4"
    result = run_json(["eval", str(tmp_path / "policy"), "--backend", "gymnasium", "--episodes", "1", "--video", str(out),
                       "--video-episodes", "2", "--stochastic"])
    lengths = result["video"]["episode_lengths"]
    frames = frames_of(out)
    assert len(frames) == result["video"]["frames"] == sum(length + 1 for length in lengths) and len(lengths) == 2
    assert frames[0].std() > 0 and not np.array_equal(frames[0], frames[-1])  # a picture, and it moves
