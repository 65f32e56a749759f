"""Checkpoints: identical behaviour after reload, nothing loaded runs code, clear errors."""

import json
import pickle
import zipfile

import jax
import numpy as np
import pytest

from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.errors import CheckpointError, ImitaxError
from imitax.io import checkpoint as ckpt
from imitax.io.checkpoint import load_checkpoint, save_checkpoint
from imitax.io.policy_checkpoint import load_policy, save_policy
from imitax.io.run_dir import MetricsWriter, make_run_dir, read_metrics, write_config, write_summary
from imitax.io.plots import plot_learning_curve
from imitax.nets.policy import Policy
from imitax.rl.ppo import PPOConfig

SPECS = [EnvSpec("CartPole-v1", 4, Discrete(2), 500), EnvSpec("Pendulum-v1", 3, Box((-2.0,), (2.0,)), 200)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.env_id)
def test_reloaded_policy_acts_identically(tmp_path, spec):
    policy = Policy(spec, (32, 32), "tanh", -0.5)
    params = policy.init(jax.random.PRNGKey(0))
    params["obs_norm"] = params["obs_norm"].update(jax.random.normal(jax.random.PRNGKey(1), (64, spec.obs_dim)) * 3)
    save_policy(tmp_path / "ckpt", policy, params, algorithm="test")
    loaded_policy, loaded_params, meta = load_policy(tmp_path / "ckpt")
    assert loaded_policy == policy and meta["algorithm"] == "test"
    obs = jax.random.normal(jax.random.PRNGKey(2), (16, spec.obs_dim))
    for deterministic in (True, False):
        a = policy.act(params, jax.random.PRNGKey(3), obs, deterministic)
        b = loaded_policy.act(loaded_params, jax.random.PRNGKey(3), obs, deterministic)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_roundtrip_without_template(tmp_path):
    params = {"layer": {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32)}, "step": np.int32(7)}
    save_checkpoint(tmp_path / "c", params, {"kind": "test"})
    restored, meta = load_checkpoint(tmp_path / "c")
    np.testing.assert_array_equal(restored["layer"]["w"], params["layer"]["w"])
    assert int(restored["step"]) == 7 and meta["format_version"] == ckpt.FORMAT_VERSION


class _Boom:
    marker = None

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_planted_pickle_is_refused_unread(tmp_path):
    marker = tmp_path / "pwned"
    _Boom.marker = marker
    save_checkpoint(tmp_path / "c", {"w": np.ones(2, np.float32)}, {"kind": "test"})
    (tmp_path / "c" / "params.msgpack").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(tmp_path / "c")
    assert not marker.exists()


def test_other_library_formats_are_refused(tmp_path):
    (tmp_path / "sb3").mkdir()
    with zipfile.ZipFile(tmp_path / "sb3" / "model.zip", "w") as archive:
        archive.writestr("policy.pth", b"\x80\x04junk")
    with pytest.raises(CheckpointError, match="zip archive"):
        load_checkpoint(tmp_path / "sb3")
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "policy.pth").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(tmp_path / "torch")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing")


def test_wrong_format_and_newer_version(tmp_path):
    save_checkpoint(tmp_path / "c", {"w": np.ones(2, np.float32)}, {"kind": "test"})
    meta_file = tmp_path / "c" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_checkpoint(tmp_path / "c")
    meta_file.write_text(json.dumps({**meta, "format": "orbax"}))
    with pytest.raises(CheckpointError, match="another library"):
        load_checkpoint(tmp_path / "c")
    meta_file.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "c")


def test_other_architecture_names_the_leaf(tmp_path):
    spec = SPECS[0]
    small = Policy(spec, (32, 32))
    save_policy(tmp_path / "c", small, small.init(jax.random.PRNGKey(0)))
    big_template = Policy(spec, (64, 64)).init(jax.random.PRNGKey(0))
    with pytest.raises(CheckpointError, match=r"another architecture: /net/params/MLP_0/Dense_0/\w+ has shape \((\d+, )?32,?\), expected shape"):
        load_checkpoint(tmp_path / "c", template=big_template)
    deeper = Policy(spec, (32, 32, 32)).init(jax.random.PRNGKey(0))
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "c", template=deeper)


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "c", {"w": np.ones(2, np.float32)}, {"kind": "first"})

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ckpt, "atomic_write_json", broken)
    with pytest.raises(RuntimeError):
        save_checkpoint(tmp_path / "c", {"w": np.zeros(2, np.float32)}, {"kind": "second"})
    params, meta = load_checkpoint(tmp_path / "c")
    assert meta["kind"] == "first" and params["w"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_run_folder_files(tmp_path):
    run = make_run_dir(tmp_path, None, prefix="gail-CartPole-v1")
    assert make_run_dir(tmp_path, run.name) != run
    write_config(run, PPOConfig())
    assert json.loads((run / "config.json").read_text())["hidden_sizes"] == [64, 64]
    with MetricsWriter(run) as writer:
        writer.write({"env_steps": 10, "episode_return": np.float32(1.5)})
        writer.write({"env_steps": 20, "episode_return": float("nan")})
        with pytest.raises(ValueError, match="not in the first row"):
            writer.write({"env_steps": 30, "surprise": 1})
    rows = read_metrics(run)
    assert rows[0] == {"env_steps": 10, "episode_return": 1.5} and rows[1]["episode_return"] is None
    assert (run / "metrics.csv").read_text().splitlines()[0] == "env_steps,episode_return"
    write_summary(run, "GAIL", {"Result": {"score": 0.97}, "Per seed": [{"seed": 0, "score": 1.0}], "Notes": "ok"})
    summary = (run / "summary.md").read_text()
    assert "# GAIL" in summary and "| score | 0.97 |" in summary and "| seed | score |" in summary
    png = plot_learning_curve(run / "curve.png", rows, "env_steps", ["episode_return"], "t", {"expert": 2.0})
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ImitaxError, match="cannot create a run folder"):
        make_run_dir(blocker / "runs")
    with pytest.raises(ImitaxError, match="cannot write checkpoint"):
        save_checkpoint(blocker / "ckpt", {"w": np.ones(1, np.float32)}, {})


def test_a_weights_file_whose_array_became_a_number_is_refused(tmp_path):
    """A damaged params.msgpack can decode with a plain number where an array was (found by
    test_properties' byte damage); it is refused as a checkpoint error, not an AttributeError."""
    from flax import serialization

    spec = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
    policy = Policy(spec, (4,), "tanh")
    path = save_policy(tmp_path / "checkpoint", policy, policy.init(jax.random.PRNGKey(0)))
    stored = serialization.msgpack_restore((path / "params.msgpack").read_bytes())
    leaf_path = []
    node = stored
    while isinstance(node, dict):  # the first leaf, wherever it sits
        key = sorted(node)[0]
        leaf_path.append(key)
        node = node[key]
    parent = stored
    for key in leaf_path[:-1]:
        parent = parent[key]
    parent[leaf_path[-1]] = 7
    (path / "params.msgpack").write_bytes(serialization.msgpack_serialize(stored))
    with pytest.raises(CheckpointError, match="params.msgpack|expected"):
        load_policy(path)
