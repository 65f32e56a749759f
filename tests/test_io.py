"""imitax.io: atomic writes, pickle-free checkpoints, run folders, metrics, summaries, plots."""

from __future__ import annotations

import csv
import dataclasses
import enum
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imitax.envs.spec import Discrete, EnvSpec
from imitax.errors import CheckpointError, ImitaxError
from imitax.io import atomic
from imitax.io import checkpoint as ckpt
from imitax.io.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from imitax.io.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from imitax.io.plots import plot_learning_curve
from imitax.io.run_dir import MetricsWriter, make_run_dir, read_metrics, write_config, write_summary

SPEC = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
IO_SOURCES = sorted((Path(__file__).parents[1] / "src" / "imitax" / "io").glob("*.py"))


def flax_params(hidden: int = 8, layers: int = 2) -> dict:
    """A flax-style params tree: {"params": {"Dense_i": {"kernel", "bias"}}, "step": int scalar}."""
    key = jax.random.PRNGKey(0)
    sizes = [4] + [hidden] * (layers - 1) + [2]
    dense = {}
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = jax.random.split(key)
        dense[f"Dense_{index}"] = {"kernel": jax.random.normal(sub, (fan_in, fan_out), jnp.float32),
                                   "bias": jnp.full((fan_out,), 0.1 * index, jnp.float32)}
    return {"params": dense, "step": jnp.asarray(7, jnp.int32), "counts": jnp.arange(3, dtype=jnp.int32)}


def saved(tmp_path: Path, params: dict | None = None, **metadata) -> Path:
    return save_checkpoint(tmp_path / "ckpt", flax_params() if params is None else params,
                           {"kind": "policy", "env_spec": SPEC, **metadata})


def assert_trees_equal(a, b) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for left, right in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert np.asarray(left).dtype == np.asarray(right).dtype
        np.testing.assert_array_equal(np.asarray(left), np.asarray(right))


# ---------------------------------------------------------------------------- atomic writes


def test_atomic_writes_replace_whole_files(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write_json(target, {"a": np.float32(1.5), "b": np.arange(2), "p": Path("x")})
    assert json.loads(target.read_text()) == {"a": 1.5, "b": [0, 1], "p": "x"}
    atomic_write_text(target, "hello")
    atomic_write_bytes(tmp_path / "raw.bin", b"\x00\x01")
    assert target.read_text() == "hello" and (tmp_path / "raw.bin").read_bytes() == b"\x00\x01"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_atomic_write_failure_keeps_old_file_and_removes_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", no_space)
    with pytest.raises(ImitaxError, match=r"cannot write .*out\.txt: No space left on device"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


# ---------------------------------------------------------------------------- checkpoints


def test_roundtrip_without_template_gives_numpy_and_metadata(tmp_path):
    params = flax_params()
    path = saved(tmp_path, params, algorithm="bc", network={"hidden_sizes": (8,)})
    assert path == tmp_path / "ckpt" and sorted(p.name for p in path.iterdir()) == ["meta.json", "params.msgpack"]
    restored, meta = load_checkpoint(path)
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(restored))
    assert_trees_equal(restored, jax.device_get(params))
    assert restored["step"].shape == () and int(restored["step"]) == 7
    assert meta["format"] == "imitax-checkpoint" and meta["format_version"] == FORMAT_VERSION
    assert meta["kind"] == "policy" and meta["algorithm"] == "bc" and meta["network"] == {"hidden_sizes": [8]}
    assert EnvSpec.from_dict(meta["env_spec"]) == SPEC


def test_roundtrip_with_template_gives_its_structure_as_jnp(tmp_path):
    params = flax_params()
    template = jax.tree.map(jnp.zeros_like, params)
    restored, _ = load_checkpoint(saved(tmp_path, params), template=template)
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(restored))
    assert_trees_equal(restored, params)


def test_user_metadata_cannot_overwrite_the_format(tmp_path):
    _, meta = load_checkpoint(saved(tmp_path, format="mine", format_version=99))
    assert meta["format"] == "imitax-checkpoint" and meta["format_version"] == FORMAT_VERSION


def test_missing_path_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=re.escape(str(tmp_path / "nowhere")) + " does not exist"):
        load_checkpoint(tmp_path / "nowhere")


class _WritesMarker:
    """Unpickling this creates `marker`: proof that a pickle was run."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_planted_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pickle-was-loaded"
    _WritesMarker.marker = marker
    path = saved(tmp_path)
    for protocol in (2, 4, 5):
        (path / "params.msgpack").write_bytes(pickle.dumps(_WritesMarker(), protocol=protocol))
        with pytest.raises(CheckpointError, match="pickle"):
            load_checkpoint(path)
        with pytest.raises(CheckpointError, match="pickle"):
            load_checkpoint(path, template=flax_params())
    assert not marker.exists()
    pickle.loads(pickle.dumps(_WritesMarker()))  # the payload is live: loading it would have left the marker
    assert marker.exists()


def test_io_sources_do_not_use_pickle():
    assert IO_SOURCES
    for source in IO_SOURCES:
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle)\b", source.read_text(), re.M), source


def _torch_style_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.0]}))


def test_other_libraries_files_are_refused(tmp_path):
    torch_dir, sb3_dir, other_dir = tmp_path / "torch", tmp_path / "sb3", tmp_path / "other"
    for folder in (torch_dir, sb3_dir, other_dir):
        folder.mkdir()
    _torch_style_zip(torch_dir / "policy.pth")
    _torch_style_zip(sb3_dir / "model.zip")
    (other_dir / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    for folder in (torch_dir, sb3_dir):
        with pytest.raises(CheckpointError, match="not an imitax checkpoint.*zip archive.*pickle"):
            load_checkpoint(folder)
    with pytest.raises(CheckpointError, match=r"not an imitax checkpoint \(it holds weights.h5\); expected .*meta"):
        load_checkpoint(other_dir)
    (tmp_path / "policy.pkl").write_bytes(pickle.dumps({"w": 1}, protocol=4))
    with pytest.raises(CheckpointError, match="policy.pkl is a pickle"):
        load_checkpoint(tmp_path / "policy.pkl")


@pytest.mark.parametrize(("meta_text", "message"), [
    (json.dumps({"format": "orbax", "format_version": 1}), "format is 'orbax', so this is not an imitax checkpoint"),
    (json.dumps({"format": "imitax-checkpoint", "format_version": FORMAT_VERSION + 1}), "format_version 2; .*newer"),
    (json.dumps({"format": "imitax-checkpoint"}), "format_version None"),
    (json.dumps([1, 2]), "format is None"),
    ("{not json", "not valid JSON"),
])
def test_bad_metadata_is_refused(tmp_path, meta_text, message):
    path = saved(tmp_path)
    (path / "meta.json").write_text(meta_text)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_or_corrupt_params_are_refused(tmp_path):
    path = saved(tmp_path)
    (path / "params.msgpack").write_bytes(b"\xc1 definitely not msgpack")
    with pytest.raises(CheckpointError, match="params.msgpack: not a readable msgpack file"):
        load_checkpoint(path)
    (path / "params.msgpack").write_bytes(b"\x93\x01\x02\x03")  # a valid msgpack list, not a dict
    with pytest.raises(CheckpointError, match="holds a list; expected a dict of arrays"):
        load_checkpoint(path)
    (path / "params.msgpack").unlink()
    with pytest.raises(CheckpointError, match="params.msgpack is missing"):
        load_checkpoint(path)


@pytest.mark.parametrize(("template", "message"), [
    (flax_params(hidden=16), "/params/Dense_0/kernel has shape (4, 8), expected shape (4, 16)"),
    (flax_params(layers=3), "/params/Dense_2 is missing, expected a group of ['bias', 'kernel']"),
    (flax_params(layers=1), "/params/Dense_1 is not in the template (unexpected keys ['Dense_1'])"),
    ({**flax_params(), "step": jnp.asarray(7.0)}, "/step has dtype int32, expected dtype float32"),
    ({"params": flax_params()["params"], "step": jnp.asarray(0)}, "/counts is not in the template"),
    ({**flax_params(), "step": {"value": jnp.asarray(0)}}, "/step is an array, expected a group of ['value']"),
])
def test_template_of_another_architecture_names_the_leaf(tmp_path, template, message):
    path = saved(tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint of another architecture: " + re.escape(message)):
        load_checkpoint(path, template=template)


def test_failed_serialisation_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = saved(tmp_path, step=1)

    def broken(*args, **kwargs):
        raise RuntimeError("serialiser exploded")

    monkeypatch.setattr(ckpt.serialization, "msgpack_serialize", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        saved(tmp_path, {"w": jnp.zeros(3)}, step=2)
    params, meta = load_checkpoint(path)
    assert meta["step"] == 1 and "params" in params
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


@pytest.mark.parametrize("failing", ["atomic_write_json", "swap"])
def test_failure_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch, failing):
    path = saved(tmp_path, step=1)
    if failing == "swap":
        real_rename = Path.rename

        def rename(self, target):
            if self.name.endswith(".tmp"):
                raise OSError(5, "Input/output error")
            return real_rename(self, target)

        monkeypatch.setattr(Path, "rename", rename)
        expected = ImitaxError
    else:
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(ckpt, failing, interrupted)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        saved(tmp_path, {"w": jnp.zeros(3)}, step=2)
    monkeypatch.undo()
    params, meta = load_checkpoint(path, template=flax_params())
    assert meta["step"] == 1
    assert_trees_equal(params, flax_params())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_save_replaces_a_checkpoint_and_recovers_an_interrupted_swap(tmp_path):
    path = saved(tmp_path, step=1)
    saved(tmp_path, step=2)
    assert load_checkpoint(path)[1]["step"] == 2
    path.rename(tmp_path / ".ckpt.old")  # a crash between the two renames of a swap
    assert load_checkpoint(path)[1]["step"] == 2
    saved(tmp_path, step=3)
    assert load_checkpoint(path)[1]["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_save_refuses_to_overwrite_other_files(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "notes.txt").write_text("precious")
    with pytest.raises(CheckpointError, match="refusing to save a checkpoint over"):
        saved(tmp_path)
    assert (tmp_path / "ckpt" / "notes.txt").read_text() == "precious"


# ---------------------------------------------------------------------------- run folders


class Mode(enum.Enum):
    FAST = "fast"


@dataclasses.dataclass(frozen=True)
class NetConfig:
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    net: NetConfig = NetConfig()
    learning_rate: float = 3e-4
    mode: Mode = Mode.FAST
    output: Path = Path("runs")
    spec: EnvSpec = SPEC
    seeds: tuple[int, ...] = ()


def test_make_run_dir_names_and_uniqueness(tmp_path):
    first = make_run_dir(tmp_path / "runs", prefix="gail-CartPole-v1")
    assert first.is_dir() and re.fullmatch(r"gail-CartPole-v1-\d{8}-\d{6}", first.name)
    named = [make_run_dir(tmp_path / "runs", "mine") for _ in range(3)]
    assert [p.name for p in named] == ["mine", "mine-1", "mine-2"]


def test_write_config_of_nested_dataclass(tmp_path):
    run = make_run_dir(tmp_path)
    write_config(run, TrainConfig())
    config = json.loads((run / "config.json").read_text())
    assert config == {"net": {"hidden_sizes": [64, 64], "activation": "tanh"}, "learning_rate": 3e-4, "mode": "fast",
                      "output": "runs", "spec": SPEC.to_dict(), "seeds": []}


def test_metrics_writer_csv_jsonl_and_read_metrics(tmp_path):
    run = make_run_dir(tmp_path)
    with MetricsWriter(run) as writer:
        writer.write({"env_steps": np.int64(100), "episode_return": jnp.float32(1.5), "loss": 0.25})
        writer.write({"env_steps": 200, "episode_return": float("nan")})
        with pytest.raises(ValueError, match=r"\['surprise'\] were not in the first row"):
            writer.write({"env_steps": 300, "surprise": 1})
        with pytest.raises(ValueError, match="'loss' has shape"):
            writer.write({"env_steps": 300, "loss": np.zeros(2)})
        assert read_metrics(run)[0]["loss"] == 0.25  # flushed while still open
    with MetricsWriter(run) as writer:  # reopening appends under the same header
        # a resumed run that logs a column its folder's file lacks (written by another version) is refused clearly
        with pytest.raises(CheckpointError, match=r"also logs \['absorbing_reward'\].*start a new run"):
            writer.write({"env_steps": 300, "absorbing_reward": 0.5})
        writer.write({"env_steps": 300, "episode_return": 3, "loss": 0.5})
    rows = read_metrics(run)
    assert rows == [{"env_steps": 100, "episode_return": 1.5, "loss": 0.25},
                    {"env_steps": 200, "episode_return": None, "loss": None},
                    {"env_steps": 300, "episode_return": 3, "loss": 0.5}]
    assert type(rows[0]["env_steps"]) is int and type(rows[0]["episode_return"]) is float
    with open(run / "metrics.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table == [["env_steps", "episode_return", "loss"], ["100", "1.5", "0.25"], ["200", "nan", ""],
                     ["300", "3", "0.5"]]


def test_read_metrics_of_empty_and_corrupt_files(tmp_path):
    assert read_metrics(tmp_path) == []
    (tmp_path / "metrics.jsonl").write_text('{"a": 1}\n{broken\n')
    with pytest.raises(ImitaxError, match="metrics.jsonl, line 2: not valid JSON"):
        read_metrics(tmp_path)


def test_summary_markdown(tmp_path):
    write_summary(tmp_path, "GAIL on CartPole-v1", {
        "Result": {"normalised score": 0.9712, "env steps": 1_000_000.0, "note": "a|b"},
        "Per seed": [{"seed": 0, "return": 500.0}, {"seed": 1, "return": 487.25, "extra": "x"}],
        "Notes": "Trained on 10 expert episodes.",
    })
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("# GAIL on CartPole-v1\n")
    for line in ["## Result", "| normalised score | 0.9712 |", "| env steps | 1,000,000 |", r"| note | a\|b |",
                 "## Per seed", "| seed | return | extra |", "|---|---|---|", "| 0 | 500 |  |", "| 1 | 487.2 | x |",
                 "## Notes", "Trained on 10 expert episodes."]:
        assert line in text.splitlines(), line


# ---------------------------------------------------------------------------- plots


@pytest.mark.parametrize("ys", [["episode_return"], ["episode_return", "loss", "absent"]])
def test_learning_curve_png(tmp_path, ys):
    rows = [{"env_steps": step, "episode_return": 10.0 * step, "loss": 1.0 / step} for step in range(1, 20)]
    rows += [{"env_steps": 20, "episode_return": float("nan"), "loss": None}, {"episode_return": 5.0},
             {"env_steps": np.int64(21), "episode_return": np.float32(3.0)}]
    png = plot_learning_curve(tmp_path / "plots" / "curve.png", rows, "env_steps", ys, "GAIL",
                              hlines={"expert": 500.0, "random": 22.0})
    assert png == tmp_path / "plots" / "curve.png"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 1000


# ---------------------------------------------------------------------------- unwritable outputs


def test_unwritable_output_folder_gives_imitax_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    name = re.escape(str(blocker))
    with pytest.raises(ImitaxError, match=f"cannot write {name}/out.json: '{name}' is a file, not a folder"):
        atomic_write_json(blocker / "out.json", {})
    with pytest.raises(ImitaxError, match=f"cannot create a run folder under {name}/runs: Not a directory"):
        make_run_dir(blocker / "runs")
    with pytest.raises(ImitaxError, match=f"cannot write checkpoint {name}/ckpt"):
        save_checkpoint(blocker / "ckpt", flax_params(), {})
    with pytest.raises(ImitaxError, match=f"cannot write metrics in {name}/run"):
        MetricsWriter(blocker / "run")
    with pytest.raises(ImitaxError, match=f"cannot write {name}/curve.png"):
        plot_learning_curve(blocker / "curve.png", [{"x": 1, "y": 2}], "x", ["y"], "t")
    with pytest.raises(ImitaxError, match=f"cannot write {name}/summary.md"):
        write_summary(blocker, "t", {})
    assert blocker.read_text() == "not a folder" and os.listdir(tmp_path) == ["a-file"]


def test_staging_folders_left_by_a_killed_writer_are_cleared_by_the_next_write(tmp_path):
    """A checkpoint's or dataset's staging folder names its writer's PID: the next write of
    the same target removes those of exited processes, and keeps a live writer's."""
    import subprocess
    import sys

    from imitax.io.checkpoint import save_checkpoint
    from imitax.staging import make_staging_folder, remove_stale

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".ckpt.pid{dead_pid}.abc.tmp"
    stale.mkdir()
    (stale / "params.msgpack").write_bytes(b"half written")
    live = make_staging_folder(tmp_path, ".ckpt.")  # this process: alive
    legacy = tmp_path / ".ckpt.xyz.tmp"  # no PID: not ours to judge
    legacy.mkdir()
    save_checkpoint(tmp_path / "ckpt", {"w": np.zeros(3, np.float32)}, {"kind": "test"})
    assert not stale.exists() and live.is_dir() and legacy.is_dir()
    assert (tmp_path / "ckpt").is_dir()
    assert remove_stale(tmp_path, ".ckpt.") == []
