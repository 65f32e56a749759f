"""Bad input, tried: one table of user mistakes across datasets, checkpoints, configs and the CLI.

Each case builds its bad input in a fresh copy of a small world (two Minari datasets of
random episodes, a freshly initialised policy checkpoint, a runs folder; no training),
then asserts:

- the error TYPE (for CLI cases: the type raised inside `imitax.cli.main`),
- substrings of the message that name what is wrong AND what was expected,
- CLI: exit status 2, exactly one non-empty stderr line, no traceback,
- nothing left behind: every file and folder of the world is byte-for-byte as before
  (no run folder, no dataset or hidden staging folder, existing data untouched).

This is the single list of bad-input cases; test_minari_io.py and test_cli.py test the
happy paths.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import jax
import numpy as np
import point_mass
import pytest
from episodes import random_episode

import imitax
import imitax.cli as cli
import imitax.commands.common as common
from imitax.algos.bc import BCConfig
from imitax.commands.expert import ExpertArgs
from imitax.data.minari_io import load_demonstrations, save_demonstrations
from imitax.data.types import Trajectory
from imitax.envs.spec import Box, Discrete, EnvSpec
from imitax.eval import normalized_score
from imitax.errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    ImitaxError,
    OutputError,
    ResourceError,
    RunLockedError,
    SpaceError,
    UnknownEnvError,
)
from imitax.io.checkpoint import load_checkpoint, save_checkpoint
from imitax.io.policy_checkpoint import load_policy, save_policy
from imitax.io.reward_checkpoint import load_reward
from imitax.io.run_dir import write_config
from imitax.io.run_lock import run_lock
from imitax.nets.policy import Policy
from imitax.rl.ppo import PPOConfig

CARTPOLE = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
PENDULUM = EnvSpec("Pendulum-v1", 3, Box((-2.0,), (2.0,)), 200)
ACROBOT = EnvSpec("Acrobot-v1", 6, Discrete(3), 500)
CARTPOLE_DEMOS = "cartpole/demos-v0"
POINT_MASS = f"point_mass:{point_mass.ENV_ID}"
PENDULUM_DEMOS = "pendulum/demos-v0"
HELD_LOCKS = contextlib.ExitStack()  # run-folder locks a case holds, released with its world


# ---------------------------------------------------------------------------- the world


@dataclasses.dataclass(frozen=True)
class World:
    """Paths of one test's copy: `root/minari` (datasets), `root/runs`, `root/policy` (checkpoint)."""

    root: Path

    @property
    def minari(self) -> Path:
        return self.root / "minari"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def policy(self) -> Path:
        return self.root / "policy"

    def data_file(self, dataset_id: str) -> Path:
        return self.minari / dataset_id / "data" / "main_data.hdf5"

    def metadata_file(self, dataset_id: str) -> Path:
        return self.minari / dataset_id / "data" / "metadata.json"

    def file(self, name: str, content: bytes = b"not a folder\n") -> Path:
        path = self.root / name
        path.write_bytes(content)
        return path


def episodes(spec: EnvSpec, lengths=(5, 8, 3), seed: int = 0) -> list[Trajectory]:
    """Random but valid episodes of `spec`; the last one truncated, the others terminated."""
    rng = np.random.default_rng(seed)
    return [random_episode(rng, spec, length, index < len(lengths) - 1) for index, length in enumerate(lengths)]


def save(dataset_id: str, trajectories: list[Trajectory], spec: EnvSpec, **kwargs: Any) -> Path:
    return save_demonstrations(dataset_id, trajectories, spec, expert_score=100.0, random_score=10.0, **kwargs)


def replace(trajectory: Trajectory, **changes: Any) -> Trajectory:
    return dataclasses.replace(trajectory, **changes)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The world every case copies: two datasets and a policy checkpoint (built once)."""
    root = tmp_path_factory.mktemp("pristine")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    try:
        save(CARTPOLE_DEMOS, episodes(CARTPOLE), CARTPOLE)
        save(PENDULUM_DEMOS, episodes(PENDULUM), PENDULUM)
    finally:
        mp.undo()
    policy = Policy(CARTPOLE, (16,), "tanh")
    save_policy(root / "policy", policy, policy.init(jax.random.PRNGKey(0)), algorithm="bc")
    (root / "runs").mkdir()
    return root


@pytest.fixture
def world(pristine, tmp_path, monkeypatch) -> Iterator[World]:
    root = tmp_path / "world"
    shutil.copytree(pristine, root)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    yield World(root)
    HELD_LOCKS.close()


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` (hidden ones too) -> a hash of its bytes, or "dir"."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# ---------------------------------------------------------------------------- bad-input builders


def edit_hdf5(world: World, dataset_id: str, edit: Callable[[h5py.File], None]) -> None:
    with h5py.File(world.data_file(dataset_id), "a") as file:
        edit(file)


def set_value(field: str, index: tuple, value: Any) -> Callable[[h5py.File], None]:
    def edit(file: h5py.File) -> None:
        data = file[field][()]
        data[index] = value
        file[field][...] = data
    return edit


def make_zero_length_episode(file: h5py.File) -> None:
    group = file["episode_1"]
    for field, dtype in (("actions", np.int64), ("rewards", np.float32), ("terminations", bool), ("truncations", bool)):
        del group[field]
        group.create_dataset(field, data=np.zeros(0, dtype))
    del group["observations"]
    group.create_dataset("observations", data=np.zeros((1, 4), np.float32))
    group.attrs["total_steps"] = 0


def make_empty_dataset(world: World) -> str:
    def edit(file: h5py.File) -> None:
        for name in list(file):
            del file[name]
    edit_hdf5(world, CARTPOLE_DEMOS, edit)
    metadata = json.loads(world.metadata_file(CARTPOLE_DEMOS).read_text())
    metadata.update(total_episodes=0, total_steps=0)
    world.metadata_file(CARTPOLE_DEMOS).write_text(json.dumps(metadata))
    return CARTPOLE_DEMOS


def edit_metadata(world: World, dataset_id: str, edit: Callable[[dict], None]) -> str:
    metadata = json.loads(world.metadata_file(dataset_id).read_text())
    edit(metadata)
    world.metadata_file(dataset_id).write_text(json.dumps(metadata))
    return dataset_id


def truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_bytes(path: Path, start: int, stop: int) -> None:
    data = bytearray(path.read_bytes())
    for index in range(start, min(stop, len(data))):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def dataset_with_spec(world: World, dataset_id: str, trajectories: list[Trajectory], recorded: EnvSpec) -> str:
    """A dataset that claims `recorded` (valid for it), to be loaded against another spec."""
    save(dataset_id, trajectories, recorded)
    return dataset_id


def edit_meta_json(world: World, edit: Callable[[dict], None]) -> Path:
    meta = json.loads((world.policy / "meta.json").read_text())
    edit(meta)
    (world.policy / "meta.json").write_text(json.dumps(meta))
    return world.policy


def edit_checkpoint_meta(folder: Path, edit: Callable[[dict], None]) -> Path:
    """The checkpoint `folder` with its meta.json changed by `edit`."""
    meta = json.loads((folder / "meta.json").read_text())
    edit(meta)
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def nan_params(world: World) -> Path:
    from flax import serialization

    file = world.policy / "params.msgpack"
    state = serialization.msgpack_restore(file.read_bytes())
    state = jax.tree.map(lambda x: np.full_like(x, np.nan) if x.dtype.kind == "f" else x, state)
    file.write_bytes(serialization.msgpack_serialize(state))
    return world.policy


def torch_zip(path: Path) -> Path:
    """The layout torch.save writes: a zip holding archive/data.pkl (a pickle) and tensor storages."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", np.zeros(4, np.float32).tobytes())
    return path


def sb3_zip(path: Path) -> Path:
    """The layout Stable-Baselines3 saves: data (JSON with pickled fields) plus torch files."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({"policy_class": {":serialized:": "gAWVMAAAAAAAAACMHg=="}}))
        archive.writestr("policy.pth", b"PK\x03\x04")
        archive.writestr("pytorch_variables.pth", b"PK\x03\x04")
        archive.writestr("_stable_baselines3_version", "2.3.0")
    return path


def safetensors_folder(path: Path) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path.mkdir()
    (path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    return path


def unwritable_folder(world: World) -> Path:
    """A folder nothing can be created in: read-only, or (as root, where chmod does not stop
    writes) a path below a regular file."""
    folder = world.root / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root
        folder.chmod(0o755)
        return world.file("plain-file") / "runs"
    return folder / "runs"


def locked_run(world: World) -> Path:
    """An expert run folder whose lock this test process holds, as a second writer finds it."""
    run_dir = world.runs / "busy"
    run_dir.mkdir()
    write_config(run_dir, ExpertArgs.defaults("CartPole-v1"))
    HELD_LOCKS.enter_context(run_lock(run_dir))
    return run_dir


def bc_run_to_resume(world: World, edit: Callable[[dict], None]) -> Path:
    """A `train bc` run folder whose config.json `edit` changed (what --resume reads first)."""
    from imitax.commands.train import TrainBCArgs

    run_dir = world.runs / "bc-run"
    run_dir.mkdir(parents=True)
    write_config(run_dir, TrainBCArgs("CartPole-v1", demos=CARTPOLE_DEMOS))
    config = json.loads((run_dir / "config.json").read_text())
    edit(config)
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


def resume_bc(edit: Callable[[dict], None], resume_meta: dict | None = None) -> Callable[[World], list[str]]:
    """`train bc --resume` of a run whose config.json `edit` changed (and with `resume_meta`, whose
    saved training state has that meta.json)."""
    def argv(world: World) -> list[str]:
        run_dir = bc_run_to_resume(world, edit)
        if resume_meta is not None:
            save_checkpoint(run_dir / "resume", {"carry": {"x": np.zeros(2, np.float32)}}, resume_meta)
        return ["train", "bc", "CartPole-v1", "--demos", CARTPOLE_DEMOS, "--resume", str(run_dir), "--no-progress"]
    return argv


def with_result_json(folder: Path, content: Any) -> Path:
    """`folder` with a result.json holding `content` (JSON; a str is written as it is)."""
    (folder / "result.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


def command_run(world: World, result: Any) -> Path:
    """A run folder as `imitax train bc` leaves it (checkpoint/ and result.json holding `result`)."""
    run = world.runs / "bc-CartPole-v1-run"
    shutil.copytree(world.policy, run / "checkpoint")
    return with_result_json(run, result)


def gail_reward_checkpoint(world: World, nan: bool = False) -> Path:
    """A reward/ folder as `imitax train gail` writes it (NaN parameters when `nan`)."""
    from imitax.algos.gail import GAIL, GAILConfig
    from imitax.nets.normalizer import ObsNormalizer

    discriminator = GAIL(GAILConfig(), CARTPOLE).discriminator
    params = discriminator.init(jax.random.PRNGKey(0), ObsNormalizer.identity(CARTPOLE.obs_dim))
    if nan:
        params = jax.tree.map(lambda x: np.full_like(x, np.nan) if np.asarray(x).dtype.kind == "f" else x, params)
    return save_checkpoint(world.root / "gail-reward", params, {"kind": "reward", "algorithm": "gail", "env_spec": CARTPOLE.to_dict(),
                                                                "network": discriminator.config(), "reward": "positive"})


def reward_checkpoint(world: World) -> Path:
    params = {"net": {"w": np.zeros((4, 2), np.float32)}}
    return save_checkpoint(world.root / "reward", params, {"kind": "reward", "algorithm": "gail",
                                                           "env_spec": CARTPOLE.to_dict()})


# ---------------------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input. `act(world)` damages the world as the case needs, then returns the bad
    call (api: a thunk that must raise `error`) or the argv that feeds it to `imitax` (cli)."""

    id: str
    error: type[ImitaxError]
    wrong: tuple[str, ...]  # substrings naming what is wrong
    expected: tuple[str, ...]  # substrings naming what was expected
    act: Callable[[World], Any]
    cli: bool = False


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """The bad call, made later (after the world is snapshotted)."""
    return lambda: function(*args, **kwargs)


def api(id, error, wrong, expected, act):
    return Case(id, error, tuple(wrong), tuple(expected), act)


def cmd(id, error, wrong, expected, argv):
    return Case(id, error, tuple(wrong), tuple(expected), argv, cli=True)


def train(algo: str, env_id: str, demos: str, *extra: str) -> Callable[[World], list[str]]:
    return lambda w: ["train", algo, env_id, "--demos", demos, "--runs-dir", str(w.runs), "--no-progress", *extra]


def bc_cartpole(*extra: str) -> Callable[[World], list[str]]:
    return train("bc", "CartPole-v1", CARTPOLE_DEMOS, *extra)


def first(spec: EnvSpec, **changes: Any) -> list[Trajectory]:
    """Valid episodes of `spec` with episode 1 changed."""
    trajectories = episodes(spec)
    trajectories[1] = replace(trajectories[1], **changes)
    return trajectories


def _obs_with(value: float, row: int) -> np.ndarray:
    obs = episodes(CARTPOLE)[1].obs.copy()
    obs[row, 2] = value
    return obs


CASES = [
    # ---- datasets: saving (validated before anything is written)
    api("save/wrong-observation-size", DatasetError, ["cartpole/bad-v0: episode 1, observations", "[9, 5]", "wrong observation size: 5"],
        ["expected shape", "obs_dim=4"], lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, obs=np.zeros((9, 5), np.float32)), CARTPOLE)),
    api("save/discrete-data-for-box-env", DatasetError, ["actions", "int32"], ["expected float actions", "Box(1)"],
        lambda w: call(save, "pendulum/bad-v0", [replace(b, actions=d.actions) for b, d in zip(episodes(PENDULUM), episodes(CARTPOLE))], PENDULUM)),
    api("save/box-data-for-discrete-env", DatasetError, ["actions", "float32"], ["expected integer actions for Discrete(2)"],
        lambda w: call(save, "cartpole/bad-v0", [replace(d, actions=b.actions[:, 0]) for d, b in zip(episodes(CARTPOLE), episodes(PENDULUM))], CARTPOLE)),
    api("save/discrete-action-out-of-bounds", DatasetError, ["action 2 at step 0", "out of bounds"], ["expected values in [0, 2)"],
        lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, actions=np.full(8, 2, np.int32)), CARTPOLE)),
    api("save/negative-discrete-action", DatasetError, ["action -1", "out of bounds"], ["expected values in [0, 2)"],
        lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, actions=np.full(8, -1, np.int32)), CARTPOLE)),
    api("save/box-action-out-of-bounds", DatasetError, ["action 2.5", "out of bounds"], ["expected values in [-2.0, 2.0]"],
        lambda w: call(save, "pendulum/bad-v0", first(PENDULUM, actions=np.full((8, 1), 2.5, np.float32)), PENDULUM)),
    api("save/nan-observation", DatasetError, ["observations", "NaN at step 4"], ["expected finite values"],
        lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, obs=_obs_with(np.nan, 4)), CARTPOLE)),
    api("save/inf-reward", DatasetError, ["rewards", "inf at step 0"], ["expected finite values"],
        lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, rewards=np.full(8, np.inf, np.float32)), CARTPOLE)),
    api("save/inf-box-action", DatasetError, ["pendulum/bad-v0: episode 1, actions", "inf at step 0"], ["expected finite values"],
        lambda w: call(save, "pendulum/bad-v0", first(PENDULUM, actions=np.full((8, 1), -np.inf, np.float32)), PENDULUM)),
    api("save/nan-expert-score", DatasetError, ["expert_score", "nan"], ["must be a finite number"],
        lambda w: call(save_demonstrations, "cartpole/bad-v0", episodes(CARTPOLE), CARTPOLE, expert_score=math.nan, random_score=0.0)),
    api("save/rewards-length-mismatch", DatasetError, ["rewards", "found [7]"], ["expected shape [n] = [8]"],
        lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, rewards=np.zeros(7, np.float32)), CARTPOLE)),
    api("save/empty-dataset", DatasetError, ["no episodes"], ["expected at least one episode"],
        lambda w: call(save, "cartpole/bad-v0", [], CARTPOLE)),
    api("save/zero-length-episode", DatasetError, ["episode 1", "zero-length episode"], ["expected every episode to have at least one step"],
        lambda w: call(save, "cartpole/bad-v0", first(CARTPOLE, obs=np.zeros((1, 4), np.float32), actions=np.zeros(0, np.int32),
                                                rewards=np.zeros(0, np.float32)), CARTPOLE)),
    api("save/malformed-dataset-id", DatasetError, ["malformed dataset id 'my demos'"], ["expected namespace/name-vN"],
        lambda w: call(save, "my demos", episodes(CARTPOLE), CARTPOLE)),
    api("save/existing-dataset-without-overwrite", DatasetError, ["'cartpole/demos-v0' already exists"], ["overwrite", "cartpole/demos-v1"],
        lambda w: call(save, CARTPOLE_DEMOS, episodes(CARTPOLE, seed=7), CARTPOLE)),
    api("save/dataset-root-is-a-file", OutputError, ["cannot write dataset", "is a file, not a folder"], ["expected a writable folder"],
        lambda w: (os.environ.__setitem__("MINARI_DATASETS_PATH", str(w.file("not-a-folder"))),
                   call(save, "cartpole/new-v0", episodes(CARTPOLE), CARTPOLE))),
    # ---- datasets: loading (the files on disk are damaged or do not match)
    api("load/wrong-observation-size", DatasetError, ["observations", "found [6, 5]", "wrong observation size: 5"], ["obs_dim=4"],
        lambda w: call(load_demonstrations, dataset_with_spec(w, "cartpole/wide-v0", episodes(replace(CARTPOLE, obs_dim=5)),
                                                        replace(CARTPOLE, obs_dim=5)), spec=CARTPOLE)),
    api("load/discrete-data-for-box-env", DatasetError, ["episode 0, actions", "int64"], ["expected float actions", "Box(1)"],
        lambda w: call(load_demonstrations, dataset_with_spec(w, "pendulum/discrete-v0", episodes(replace(PENDULUM, action_space=Discrete(2))),
                                                        replace(PENDULUM, action_space=Discrete(2))), spec=PENDULUM)),
    api("load/action-out-of-bounds", DatasetError, ["cartpole/demos-v0: episode 0, actions", "action 7 at step 1", "out of bounds"], ["expected values in [0, 2)"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, set_value("episode_0/actions", (1,), 7)), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/nan-observation", DatasetError, ["cartpole/demos-v0: episode 2, observations", "NaN at step 1"], ["expected finite values"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, set_value("episode_2/observations", (1, 0), np.nan)), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/inf-action", DatasetError, ["episode 0, actions", "inf at step 3"], ["expected finite values"],
        lambda w: (edit_hdf5(w, PENDULUM_DEMOS, set_value("episode_0/actions", (3, 0), -np.inf)), call(load_demonstrations, PENDULUM_DEMOS))),
    api("load/termination-before-the-last-step", DatasetError, ["episode 0, terminations: step 1 of 5 is marked True"],
        ["an episode must end at its first termination or truncation"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, set_value("episode_0/terminations", (1,), True)), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/terminated-and-truncated", DatasetError, ["episode 0", "marked both terminated and truncated"], ["expected at most one of them"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, set_value("episode_0/truncations", (4,), True)), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/empty-dataset", DatasetError, ["no episodes"], ["expected at least one episode"],
        lambda w: call(load_demonstrations, make_empty_dataset(w))),
    api("load/zero-length-episode", DatasetError, ["episode 1", "zero-length episode"], ["expected every episode to have at least one step"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, make_zero_length_episode), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/truncated-hdf5", DatasetError, ["cartpole/demos-v0: ", "main_data.hdf5", "truncated"], ["expected a complete HDF5 file"],
        lambda w: (truncate(w.data_file(CARTPOLE_DEMOS), 0.5), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/hdf5-header-bytes-flipped", DatasetError, ["main_data.hdf5 is not an HDF5 file"], ["expected minari's HDF5 data file"],
        lambda w: (flip_bytes(w.data_file(CARTPOLE_DEMOS), 0, 64), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/hdf5-inner-bytes-flipped", DatasetError, ["main_data.hdf5", "corrupted"], ["expected a complete HDF5 file"],
        lambda w: (flip_bytes(w.data_file(CARTPOLE_DEMOS), 96, 4096), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/hdf5-field-deleted", DatasetError, ["episode 1, rewards: missing"], ["expected the fields observations, actions, rewards"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, lambda f: f["episode_1"].__delitem__("rewards")), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/hdf5-episode-deleted", DatasetError, ["episode 2 is missing", "says 3 episodes"], ["expected groups episode_0 .. episode_2"],
        lambda w: (edit_hdf5(w, CARTPOLE_DEMOS, lambda f: f.__delitem__("episode_2")), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/hdf5-file-missing", DatasetError, ["main_data.hdf5 is missing"], ["expected it beside metadata.json"],
        lambda w: (w.data_file(CARTPOLE_DEMOS).unlink(), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/metadata-missing", DatasetError, ["missing metadata file"], ["expected metadata.json beside main_data.hdf5"],
        lambda w: (w.metadata_file(CARTPOLE_DEMOS).unlink(), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/metadata-not-json", DatasetError, ["corrupted metadata file"], ["expected minari's JSON metadata"],
        lambda w: (w.metadata_file(CARTPOLE_DEMOS).write_text('{"total_episodes": 3,'), call(load_demonstrations, CARTPOLE_DEMOS))),
    api("load/metadata-without-spaces", DatasetError, ["lacks action_space"], ["expected the serialised spaces minari writes"],
        lambda w: call(load_demonstrations, edit_metadata(w, CARTPOLE_DEMOS, lambda m: m.pop("action_space")))),
    api("load/malformed-imitax-spec", DatasetError, ["metadata.json: imitax_spec.obs_dim is missing"], ["expected an integer >= 1"],
        lambda w: call(load_demonstrations, edit_metadata(w, CARTPOLE_DEMOS, lambda m: m["imitax_spec"].pop("obs_dim")))),
    api("load/data-from-another-env", DatasetError, ["another environment", "recorded on 'CartPole-v1'"], ["expected data for 'Acrobot-v1'"],
        lambda w: call(load_demonstrations, CARTPOLE_DEMOS, spec=ACROBOT)),
    api("load/missing-path", DatasetError, ["no Minari dataset", "/no/such/dataset"], ["local datasets available: cartpole/demos-v0"],
        lambda w: call(load_demonstrations, "/no/such/dataset")),
    cmd("cli/train-bc-box-data-for-discrete-env", DatasetError, ["actions", "float32"], ["expected integer actions for Discrete(2)"],
        lambda w: bc_cartpole()(w)[:4] + [dataset_with_spec(w, "cartpole/box-v0", episodes(replace(CARTPOLE, action_space=Box((-1.0,), (1.0,)))),
                                                            replace(CARTPOLE, action_space=Box((-1.0,), (1.0,))))] + bc_cartpole()(w)[5:]),
    cmd("cli/train-bc-data-from-another-env", DatasetError, ["another environment", "'CartPole-v1'"], ["expected data for 'Pendulum-v1'"],
        train("bc", "Pendulum-v1", CARTPOLE_DEMOS)),
    cmd("cli/train-gail-corrupted-hdf5", DatasetError, ["main_data.hdf5", "truncated"], ["expected a complete HDF5 file"],
        lambda w: (truncate(w.data_file(CARTPOLE_DEMOS), 0.7), train("gail", "CartPole-v1", CARTPOLE_DEMOS)(w))[1]),
    cmd("cli/train-bc-missing-dataset", DatasetError, ["no Minari dataset 'nobody/nothing-v0'"], ["local datasets available"],
        train("bc", "CartPole-v1", "nobody/nothing-v0")),
    cmd("cli/collect-into-unwritable-dataset-root", OutputError, ["cannot write dataset", "is a file, not a folder"],
        ["expected a writable folder"],
        lambda w: (os.environ.__setitem__("MINARI_DATASETS_PATH", str(w.file("not-a-folder"))),
                   ["collect", "CartPole-v1", "--expert", str(w.policy), "--episodes", "1", "--reference-episodes", "1",
                    "--allow-weak-expert"])[1]),
    cmd("cli/collect-over-existing-dataset", DatasetError, ["'cartpole/demos-v0' already exists"], ["--overwrite"],
        lambda w: ["collect", "CartPole-v1", "--expert", str(w.policy), "--dataset-id", CARTPOLE_DEMOS]),
    # ---- the user's own expert and env (tests/point_mass.py: a class entry point and a NumPy PD controller)
    cmd("cli/collect-weak-expert", ConfigError, ["refusing to save 'cartpole/expert-v0'", "is not above the random reference"],
        ["expected an expert that beats a uniformly random policy by more than 5%", "--allow-weak-expert"],
        lambda w: ["collect", "CartPole-v1", "--policy", "numpy:ndim", "--episodes", "2", "--reference-episodes", "10"]),
    cmd("cli/collect-policy-module-missing", ConfigError, ["--policy 'no_such_module:act'", "cannot import module 'no_such_module'"],
        ["expected a module on sys.path or PYTHONPATH"],
        lambda w: ["collect", "CartPole-v1", "--policy", "no_such_module:act", "--episodes", "1"]),
    cmd("cli/collect-policy-attribute-missing", ConfigError, ["module 'point_mass' has no attribute 'nope'"],
        ["expected a function taking observations and returning actions"],
        lambda w: ["collect", POINT_MASS, "--policy", "point_mass:nope", "--episodes", "1"]),
    cmd("cli/collect-policy-not-callable", ConfigError, ["'HORIZON' is a int, not callable"],
        ["expected a function taking observations"],
        lambda w: ["collect", POINT_MASS, "--policy", "point_mass:HORIZON", "--episodes", "1"]),
    cmd("cli/collect-policy-not-module-function", ConfigError, ["--policy 'pd_expert' is not of the form module:function"],
        ["expected e.g. my_expert:act"], lambda w: ["collect", POINT_MASS, "--policy", "pd_expert"]),
    cmd("cli/collect-policy-action-of-wrong-shape", ConfigError, ["policy numpy:zeros_like at step 0", "shape (6,)"],
        ["expected shape (2,)", "Box(low=[-1.0, -1.0]"],
        lambda w: ["collect", POINT_MASS, "--policy", "numpy:zeros_like", "--episodes", "1"]),
    cmd("cli/collect-policy-action-out-of-space", ConfigError, ["returned action 4, outside the action space"],
        ["expected an integer in [0, 2) for Discrete(2)"],
        lambda w: ["collect", "CartPole-v1", "--policy", "numpy:size", "--episodes", "1"]),
    cmd("cli/collect-policy-and-expert", ConfigError, ["--policy point_mass:pd_expert and --expert"], ["expected one expert"],
        lambda w: ["collect", POINT_MASS, "--policy", "point_mass:pd_expert", "--expert", str(w.policy)]),
    cmd("cli/env-module-missing", UnknownEnvError, ["cannot import module 'no_such_module'", "'no_such_module:MyEnv-v0'"],
        ["expected an importable module", "registers 'MyEnv-v0'"],
        train("bc", "no_such_module:MyEnv-v0", CARTPOLE_DEMOS, "--backend", "gymnasium")),
    cmd("cli/env-module-does-not-register-it", UnknownEnvError, ["unknown environment id 'point_mass:MyEnv-v0'",
                                                                 "module 'point_mass' does not register it"],
        ["expected 'module:EnvId' where importing module registers EnvId"],
        lambda w: ["collect", "point_mass:MyEnv-v0", "--policy", "point_mass:pd_expert"]),
    cmd("cli/gymnasium-env-on-the-jax-backend", UnknownEnvError, [f"'{POINT_MASS}' is a Gymnasium environment"],
        ["expected --backend gymnasium"], train("bc", POINT_MASS, CARTPOLE_DEMOS)),
    api("env/instance-without-factory", ConfigError, ["an environment instance runs as a single copy", "16 parallel"],
        ["pass a factory"], lambda w: call(imitax.make, point_mass.PointMassEnv(), num_envs=16)),
    api("eval/equal-references", ConfigError, ["expert reference -200.0 is not above the random reference -200.0"],
        ["expected an expert that beats a uniformly random policy"], lambda w: call(normalized_score, -150.0, -200.0, -200.0)),
    api("collect/policy-not-callable", ConfigError, ["policy must be a callable obs -> action", "got str"], ["callable"],
        lambda w: call(imitax.collect, POINT_MASS, "point_mass:pd_expert")),
    # ---- environments
    api("env/unknown-id", UnknownEnvError, ["unknown JAX environment id 'CartPoel-v1'"], ["known JAX ids: CartPole-v1"],
        lambda w: call(imitax.make, "CartPoel-v1")),
    api("env/unknown-backend", UnknownEnvError, ["unknown backend 'torch'"], ["expected one of jax, gymnasium"],
        lambda w: call(imitax.make, "CartPole-v1", backend="torch")),
    cmd("cli/expert-unknown-env-id", UnknownEnvError, ["'CartPoel-v1'"], ["known JAX ids: CartPole-v1"],
        lambda w: ["expert", "CartPoel-v1", "--runs-dir", str(w.runs)]),
    cmd("cli/train-gail-unknown-gymnasium-id", UnknownEnvError, ["unknown environment id 'NoSuchEnv-v9'"], ["known ids include CartPole-v1"],
        lambda w: train("gail", "NoSuchEnv-v9", CARTPOLE_DEMOS, "--backend", "gymnasium")(w)),
    api("env/discrete-observations", SpaceError, ["FrozenLake-v1: observation space Discrete(16) is not supported"],
        ["expected a Box"], lambda w: call(imitax.make, "FrozenLake-v1", backend="gymnasium")),
    cmd("cli/expert-tuple-observations", SpaceError, ["Blackjack-v1: observation space Tuple("], ["expected a Box"],
        lambda w: ["expert", "Blackjack-v1", "--backend", "gymnasium", "--runs-dir", str(w.runs)]),
    # ---- configs
    api("config/nan-learning-rate", ConfigError, ["bc.learning_rate", "got nan"], ["must be > 0"],
        lambda w: call(BCConfig(learning_rate=math.nan).validate)),
    api("config/inf-learning-rate", ConfigError, ["bc.learning_rate", "got inf"], ["must be > 0", "expected a finite number"],
        lambda w: call(BCConfig(learning_rate=math.inf).validate)),
    api("config/minibatches-do-not-divide-batch", ConfigError, ["num_envs * rollout_steps = 15"], ["divisible by num_minibatches = 4"],
        lambda w: call(PPOConfig(num_envs=3, rollout_steps=5).validate)),
    cmd("cli/zero-learning-rate", ConfigError, ["bc.learning_rate", "got 0.0"], ["must be > 0"], bc_cartpole("--bc.learning-rate", "0")),
    cmd("cli/negative-learning-rate", ConfigError, ["ppo.learning_rate", "got -1.0"], ["must be > 0"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.ppo.learning-rate", "-1")),
    cmd("cli/zero-batch-size", ConfigError, ["bc.batch_size", "got 0"], ["must be > 0"], bc_cartpole("--bc.batch-size", "0")),
    cmd("cli/negative-disc-batch-size", ConfigError, ["airl.disc_batch_size", "got -8"], ["must be > 0"],
        train("airl", "CartPole-v1", CARTPOLE_DEMOS, "--airl.disc-batch-size", "-8")),
    cmd("cli/airl-log-policy-floor-nan", ConfigError, ["--airl.log-policy-floor is nan"], ["expected a finite number"],
        train("airl", "CartPole-v1", CARTPOLE_DEMOS, "--airl.generator", "sac", "--airl.log-policy-floor", "nan")),
    cmd("cli/negative-replay-size", ConfigError, ["airl.disc_replay_size", "got -1"], ["must be >= 0"],
        train("airl", "CartPole-v1", CARTPOLE_DEMOS, "--airl.disc-replay-size", "-1")),
    cmd("cli/replay-fraction-above-one", ConfigError, ["gail.disc_replay_fraction", "got 1.5"], ["must be in [0, 1]"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.disc-replay-fraction", "1.5")),
    cmd("cli/disc-ignore-obs-beyond-the-observation", ConfigError, ["gail.disc_ignore_obs is [4]", "has 4 features"],
        ["expected indices from 0 to 3"], train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.disc-ignore-obs", "4")),
    cmd("cli/disc-ignore-obs-negative", ConfigError, ["gail.disc_ignore_obs is [-1]"], ["expected distinct observation feature"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.disc-ignore-obs", "-1")),
    cmd("cli/airl-disc-ignore-obs-beyond-the-observation", ConfigError, ["airl.disc_ignore_obs is [7]", "has 4 features"],
        ["expected indices from 0 to 3"], train("airl", "CartPole-v1", CARTPOLE_DEMOS, "--airl.disc-ignore-obs", "7")),
    cmd("cli/negative-bc-weight", ConfigError, ["gail.bc_weight", "got -1.0"], ["must be >= 0"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.bc-weight", "-1")),
    cmd("cli/bc-weight-with-the-sac-generator", ConfigError, ["airl.bc_weight is 1.0"], ["expected 0 with the SAC generator"],
        train("airl", "CartPole-v1", CARTPOLE_DEMOS, "--airl.generator", "sac", "--airl.bc-weight", "1")),
    cmd("cli/zero-disc-steps", ConfigError, ["gail.disc_steps", "got 0"], ["must be > 0"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.disc-steps", "0")),
    cmd("cli/sqil-expert-fraction-one", ConfigError, ["sqil.expert_fraction", "got 1.0"], ["must be in (0, 1)"],
        train("sqil", "CartPole-v1", CARTPOLE_DEMOS, "--sqil.expert-fraction", "1.0")),
    cmd("cli/dac-tau-above-one", ConfigError, ["sac.tau", "got 2.0"], ["must be in [0, 1]"],
        train("dac", "CartPole-v1", CARTPOLE_DEMOS, "--dac.sac.tau", "2")),
    cmd("cli/dac-zero-disc-learning-rate", ConfigError, ["dac.disc_learning_rate", "got 0.0"], ["must be > 0"],
        train("dac", "CartPole-v1", CARTPOLE_DEMOS, "--dac.disc-learning-rate", "0")),
    cmd("cli/unknown-generator", ConfigError, ["unknown gail.generator 'td3'"], ["expected one of ppo, sac"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.generator", "td3")),
    cmd("cli/sac-generator-with-reservoir", ConfigError, ["airl.disc_replay_size is 100"],
        ["expected 0 with the SAC generator"],
        train("airl", "CartPole-v1", CARTPOLE_DEMOS, "--airl.generator", "sac", "--airl.disc-replay-size", "100")),
    cmd("cli/iq-learn-unknown-value-loss", ConfigError, ["iq_learn.value_loss is 'v1'"],
        ["expected one of auto, value, value_expert, v0"],
        train("iq-learn", "CartPole-v1", CARTPOLE_DEMOS, "--iq-learn.value-loss", "v1")),
    cmd("cli/iq-learn-offline-with-agent-states", ConfigError, ["'value' needs the agent's own states"],
        ["expected 'value_expert' or 'auto'"],
        train("iq-learn", "CartPole-v1", CARTPOLE_DEMOS, "--iq-learn.offline", "--iq-learn.value-loss", "value")),
    cmd("cli/iq-learn-no-critic", ConfigError, ["sac.num_critics", "got 0"], ["must be > 0"],
        train("iq-learn", "CartPole-v1", CARTPOLE_DEMOS, "--iq-learn.sac.num-critics", "0")),
    cmd("cli/sac-buffer-below-one-iteration", ConfigError, ["sac.buffer_size 4", "num_envs * rollout_steps = 8"],
        ["expected at least that"],
        lambda w: ["expert", "Pendulum-v1", "--algo", "sac", "--sac.num-envs", "8", "--sac.buffer-size", "4",
                   "--runs-dir", str(w.runs)]),
    cmd("cli/unknown-expert-algo", ConfigError, ["unknown expert algorithm 'td3'"], ["expected one of auto, ppo, sac"],
        lambda w: ["expert", "Pendulum-v1", "--algo", "td3", "--runs-dir", str(w.runs)]),
    cmd("cli/zero-total-steps", ConfigError, ["ppo.total_steps", "got 0"], ["must be > 0"],
        lambda w: ["expert", "CartPole-v1", "--ppo.total-steps", "0", "--runs-dir", str(w.runs)]),
    cmd("cli/negative-steps", ConfigError, ["bc.num_steps", "got -10"], ["must be > 0"], bc_cartpole("--bc.num-steps", "-10")),
    cmd("cli/gamma-above-one", ConfigError, ["ppo.gamma", "got 1.5"], ["must be in [0, 1]"],
        lambda w: ["expert", "CartPole-v1", "--ppo.gamma", "1.5", "--runs-dir", str(w.runs)]),
    cmd("cli/unknown-activation", ConfigError, ["bc.activation 'swish' is unknown"], ["expected one of tanh, relu"],
        bc_cartpole("--bc.activation", "swish")),
    # the discriminator's network is checked when it is built, after the run folder exists: the folder goes again
    cmd("cli/unknown-discriminator-activation", ConfigError, ["activation 'swish' is unknown"], ["expected one of tanh, relu"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.disc-activation", "swish")),
    cmd("cli/zero-hidden-size", ConfigError, ["ppo.hidden_sizes [64, 0]"], ["expected positive integers"],
        lambda w: ["expert", "CartPole-v1", "--ppo.hidden-sizes", "64", "0", "--runs-dir", str(w.runs)]),
    cmd("cli/zero-eval-episodes", ConfigError, ["--eval-episodes", "got 0"], ["must be > 0"], bc_cartpole("--eval-episodes", "0")),
    cmd("cli/zero-num-seeds", ConfigError, ["--num-seeds", "got 0"], ["must be > 0"], bc_cartpole("--num-seeds", "0")),
    cmd("cli/negative-num-seeds", ConfigError, ["--num-seeds", "got -2"], ["must be > 0"],
        lambda w: ["train", "mce-irl", "--num-seeds", "-2", "--runs-dir", str(w.runs)]),
    # ---- numbers: NaN and infinities where a finite number is meant, seeds JAX cannot tell apart
    cmd("cli/nan-checkpoint-every-s", ConfigError, ["--checkpoint-every-s is nan"], ["expected a number (or inf)"],
        bc_cartpole("--checkpoint-every-s", "nan")),
    cmd("cli/inf-learning-rate", ConfigError, ["--bc.learning-rate is inf"], ["expected a finite number"],
        bc_cartpole("--bc.learning-rate", "inf")),
    cmd("cli/minus-inf-nested-option", ConfigError, ["--gail.ppo.init-log-std is -inf"], ["expected a finite number"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.ppo.init-log-std=-inf")),
    cmd("cli/nan-gridworld-reward", ConfigError, ["--grid.step-reward is nan"], ["expected a finite number"],
        lambda w: ["train", "mce-irl", "--grid.step-reward", "nan", "--runs-dir", str(w.runs)]),
    cmd("cli/seed-beyond-64-bits", ConfigError, [f"--seed is {2**64}"], ["expected a seed in [0, 2**32 - 1 = 4294967295]"],
        lambda w: ["expert", "CartPole-v1", "--seed", str(2**64), "--ppo.total-steps", "2048", "--runs-dir", str(w.runs)]),
    cmd("cli/seed-beyond-32-bits", ConfigError, [f"--seed is {2**32}"], ["expected a seed in [0, 2**32 - 1"],
        bc_cartpole("--seed", str(2**32))),
    cmd("cli/negative-seed", ConfigError, ["--seed is -1"], ["expected a seed in [0, 2**32 - 1"],
        lambda w: ["collect", "CartPole-v1", "--expert", str(w.policy), "--episodes", "1", "--seed", "-1"]),
    cmd("cli/negative-tabular-mdp-seed", ConfigError, ["--random.seed is -3"], ["expected a seed in [0, 2**32 - 1"],
        lambda w: ["train", "mce-irl", "--mdp", "random", "--random.seed", "-3", "--runs-dir", str(w.runs)]),
    cmd("cli/run-name-with-slash", ConfigError, ["--name '../escape' is not a folder name"], ["expected one name without '/'"],
        bc_cartpole("--name", "../escape")),
    cmd("cli/eval-zero-episodes", ConfigError, ["--episodes", "got 0"], ["must be > 0"],
        lambda w: ["eval", str(w.policy), "--episodes", "0"]),
    cmd("cli/eval-video-zero-episodes", ConfigError, ["--video-episodes", "got 0"], ["must be > 0"],
        lambda w: ["eval", str(w.policy), "--episodes", "1", "--video", str(w.root / "clip.mp4"), "--video-episodes", "0"]),
    cmd("cli/eval-video-not-mp4", ConfigError, ["--video", "clip.gif has suffix '.gif'"], ["expected a .mp4 file"],
        lambda w: ["eval", str(w.policy), "--episodes", "1", "--video", str(w.root / "clip.gif")]),
    cmd("cli/eval-video-in-unwritable-folder", OutputError, ["cannot write --video", "clip.mp4"], ["expected a writable folder"],
        lambda w: ["eval", str(w.policy), "--episodes", "1", "--video", str(unwritable_folder(w) / "clip.mp4")]),
    cmd("cli/eval-video-path-is-a-folder", OutputError, ["cannot write --video", "it is a folder"], ["expected a .mp4 file path"],
        lambda w: ((w.root / "clip.mp4").mkdir(), ["eval", str(w.policy), "--episodes", "1", "--video", str(w.root / "clip.mp4")])),
    cmd("cli/collect-negative-episodes", ConfigError, ["--episodes", "got -1"], ["must be > 0"],
        lambda w: ["collect", "CartPole-v1", "--expert", str(w.policy), "--episodes", "-1"]),
    cmd("cli/invalid-choice", ConfigError, ["invalid choice 'torch' for argument '--backend'"], ["Expected one of ('jax', 'gymnasium')"],
        lambda w: ["eval", str(w.policy), "--backend", "torch"]),
    cmd("cli/unknown-logger", ConfigError, ["invalid choice 'mlflow' for argument '--log'"],
        ["Expected one of ('tensorboard', 'wandb')"], bc_cartpole("--log", "mlflow")),
    cmd("cli/not-a-number", ConfigError, ["Error parsing --ppo.total-steps", "'many'"], ["--ppo.total-steps INT"],
        lambda w: ["expert", "CartPole-v1", "--ppo.total-steps", "many", "--runs-dir", str(w.runs)]),
    cmd("cli/missing-required-option", ConfigError, ["Missing from imitax train bc", "--demos"], ["(required)"],
        lambda w: ["train", "bc", "CartPole-v1", "--runs-dir", str(w.runs)]),
    cmd("cli/unknown-option", ConfigError, ["Unrecognized options: --learning-rate"], ["imitax expert --help"],
        lambda w: ["expert", "CartPole-v1", "--learning-rate", "3e-4", "--runs-dir", str(w.runs)]),
    # ---- resources: memory estimated from the options, refused before anything is allocated or written
    cmd("resources/num-seeds-beyond-memory", ResourceError, ["needs about", "x 100000000 seeds"],
        ["is available", "expected fewer --num-seeds"], train("sqil", "CartPole-v1", CARTPOLE_DEMOS, "--num-seeds", "100000000")),
    cmd("resources/sac-buffer-beyond-memory", ResourceError, ["needs about", "replay buffer of 100,000,000,000 transitions"],
        ["expected fewer --num-seeds or a smaller buffer"],
        lambda w: ["expert", "Pendulum-v1", "--algo", "sac", "--sac.buffer-size", str(10**11), "--sac.total-steps",
                   str(10**11), "--runs-dir", str(w.runs)]),
    cmd("resources/gridworld-beyond-memory", ResourceError, ["needs about", "transition tensor of 9,000,000 states"],
        ["is available"], lambda w: ["train", "mce-irl", "--grid.size", "3000", "3000", "--runs-dir", str(w.runs)]),
    cmd("resources/ppo-rollout-beyond-memory", ResourceError, ["needs about", "rollout of"], ["expected fewer --num-seeds"],
        train("gail", "CartPole-v1", CARTPOLE_DEMOS, "--gail.ppo.num-envs", str(10**7), "--gail.ppo.rollout-steps",
              str(10**5), "--gail.ppo.num-minibatches", "1", "--gail.ppo.total-steps", str(10**12))),
    api("checkpoint/meta-names-a-huge-network", CheckpointError, ["describes a policy of", "the weights file holds"],
        ["expected the architecture the weights were saved with"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m["policy"].update(hidden_sizes=[100_000, 100_000])))),
    cmd("cli/eval-of-a-meta-naming-a-huge-network", CheckpointError, ["describes a policy of 10,00"],
        ["expected the architecture"],
        lambda w: (edit_meta_json(w, lambda m: m["policy"].update(hidden_sizes=[100_000, 100_000])),
                   ["eval", str(w.policy), "--episodes", "1"])),
    # ---- checkpoints
    api("checkpoint/other-architecture", CheckpointError, ["checkpoint of another architecture", "Dense_0/bias has shape (16,)"], ["expected shape (32,)"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m["policy"].update(hidden_sizes=[32])))),
    api("checkpoint/template-of-other-architecture", CheckpointError, ["another architecture", "Dense_2 is missing"], ["expected a group of"],
        lambda w: call(load_checkpoint, w.policy, template=Policy(CARTPOLE, (16, 16), "tanh").init(jax.random.PRNGKey(0)))),
    api("checkpoint/unknown-activation-in-meta", CheckpointError, ["meta.json: policy.activation is 'foo'"], ["expected one of tanh"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m["policy"].update(activation="foo")))),
    api("checkpoint/bad-action-space-in-meta", CheckpointError, ["meta.json: env_spec.action_space.type is 'Tuple'"], ["expected one of Discrete, Box"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m["env_spec"].update(action_space={"type": "Tuple"})))),
    api("checkpoint/missing-env-spec", CheckpointError, ["meta.json: env_spec is missing"], ["expected a JSON object"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m.pop("env_spec")))),
    api("checkpoint/nan-params", CheckpointError, ["contains NaN"], ["expected finite parameters"], lambda w: call(load_policy, nan_params(w))),
    api("checkpoint/torch-zip", CheckpointError, ["model.pt is a zip archive", "can run code"], ["expected an imitax checkpoint folder"],
        lambda w: call(load_policy, torch_zip(w.root / "model.pt"))),
    api("checkpoint/numpy-npz", CheckpointError, ["weights.npz is a zip archive"], ["expected an imitax checkpoint folder"],
        lambda w: (np.savez(w.root / "weights.npz", w=np.zeros(3)), call(load_checkpoint, w.root / "weights.npz"))[1]),
    api("checkpoint/safetensors-without-meta", CheckpointError, ["not an imitax checkpoint (it holds model.safetensors)"],
        ["expected an imitax checkpoint folder with params.msgpack and meta.json"], lambda w: call(load_policy, safetensors_folder(w.root / "st"))),
    api("checkpoint/json-of-another-format", CheckpointError, ["format is 'stable-baselines3'"], ["expected format 'imitax-checkpoint'"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m.update(format="stable-baselines3")))),
    api("checkpoint/newer-format-version", CheckpointError, ["format_version 2"], ["reads versions 1..1"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m.update(format_version=2)))),
    api("checkpoint/params-missing", CheckpointError, ["params.msgpack is missing"], ["expected it beside meta.json"],
        lambda w: ((w.policy / "params.msgpack").unlink(), call(load_policy, w.policy))),
    api("checkpoint/params-truncated", CheckpointError, ["params.msgpack: not a readable msgpack file"], ["expected params written by imitax"],
        lambda w: (truncate(w.policy / "params.msgpack", 0.5), call(load_policy, w.policy))),
    api("checkpoint/missing-path", CheckpointError, ["no-such-checkpoint does not exist"], ["expected an imitax checkpoint folder"],
        lambda w: call(load_policy, w.root / "no-such-checkpoint")),
    api("checkpoint/save-over-a-file", CheckpointError, ["refusing to save a checkpoint over", "not an imitax checkpoint"],
        ["expected a new path or an existing checkpoint folder"],
        lambda w: call(save_checkpoint, w.file("notes.txt", b"my notes\n"), {"w": np.zeros(2)}, {"kind": "policy"})),
    cmd("cli/eval-sb3-zip", CheckpointError, ["ppo_cartpole.zip is a zip archive"], ["expected an imitax checkpoint folder"],
        lambda w: ["eval", str(sb3_zip(w.root / "ppo_cartpole.zip"))]),
    cmd("cli/eval-reward-checkpoint", CheckpointError, ["checkpoint kind is 'reward'"], ["expected a 'policy' checkpoint"],
        lambda w: ["eval", str(reward_checkpoint(w))]),
    cmd("cli/train-rl-reward-without-network", CheckpointError, ["reward/meta.json: network is missing"],
        ["expected a JSON object"],
        lambda w: ["train", "rl", "CartPole-v1", "--reward", str(reward_checkpoint(w)), "--runs-dir", str(w.runs)]),
    api("checkpoint/reward-with-nan-params", CheckpointError, ["contains NaN"], ["expected finite parameters"],
        lambda w: call(load_reward, gail_reward_checkpoint(w, nan=True))),
    # ---- each file format read through its declared schema (imitax.schema): nothing coerced, nothing dropped
    api("checkpoint/fractional-obs-dim-in-meta", CheckpointError, ["meta.json: env_spec.obs_dim is 4.5"],
        ["expected an integer >= 1"], lambda w: call(load_policy, edit_meta_json(w, lambda m: m["env_spec"].update(obs_dim=4.5)))),
    api("checkpoint/init-log-std-as-text", CheckpointError, ["meta.json: policy.init_log_std is 'wide'"], ["expected a finite number"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m["policy"].update(init_log_std="wide")))),
    cmd("cli/train-rl-reward-action-count-true", CheckpointError, ["meta.json: env_spec.action_space.n is True"],
        ["expected an integer >= 1"],
        lambda w: ["train", "rl", "CartPole-v1", "--runs-dir", str(w.runs), "--reward", str(edit_checkpoint_meta(
            gail_reward_checkpoint(w), lambda m: m["env_spec"]["action_space"].update(n=True)))]),
    api("checkpoint/reward-discount-as-text", CheckpointError, ["meta.json: network.gamma is '0.99'"],
        ["expected a finite number in [0, 1)"],
        lambda w: call(load_reward, edit_checkpoint_meta(gail_reward_checkpoint(w), lambda m: m["network"].update(gamma="0.99")))),
    api("checkpoint/reward-form-unknown", CheckpointError, ["meta.json: reward is 'sigmoid'"], ["expected one of logit, positive, negative"],
        lambda w: call(load_reward, edit_checkpoint_meta(gail_reward_checkpoint(w), lambda m: m.update(reward="sigmoid")))),
    api("load/reference-score-as-text", DatasetError, ["metadata.json: ref_max_score is 'high'"], ["expected a finite number or null"],
        lambda w: call(load_demonstrations, edit_metadata(w, CARTPOLE_DEMOS, lambda m: m.update(ref_max_score="high")))),
    api("load/imitax-spec-fractional-episode-length", DatasetError, ["metadata.json: imitax_spec.max_episode_steps is 499.5"],
        ["expected an integer >= 1"],
        lambda w: call(load_demonstrations, edit_metadata(w, CARTPOLE_DEMOS, lambda m: m["imitax_spec"].update(max_episode_steps=499.5)))),
    api("load/gymnasium-env-spec-not-json", DatasetError, ["metadata.json: env_spec is '{oops'"],
        ["expected Gymnasium's EnvSpec as a JSON string"],
        lambda w: call(load_demonstrations, edit_metadata(w, CARTPOLE_DEMOS, lambda m: m.update(env_spec="{oops")))),
    api("load/episode-count-as-text", DatasetError, ["metadata.json: total_episodes is '3'"], ["expected an integer >= 0"],
        lambda w: call(load_demonstrations, edit_metadata(w, CARTPOLE_DEMOS, lambda m: m.update(total_episodes="3")))),
    cmd("cli/eval-missing-path", CheckpointError, ["does not exist"], ["expected an imitax checkpoint folder"],
        lambda w: ["eval", str(w.root / "no" / "such" / "run")]),
    cmd("cli/train-rl-missing-reward", CheckpointError, ["does not exist"], ["expected an imitax checkpoint folder"],
        lambda w: ["train", "rl", "CartPole-v1", "--reward", str(w.root / "no-run"), "--runs-dir", str(w.runs)]),
    # ---- result.json, read back through its one schema (imitax.io.result_file) by eval, train rl, load and plot
    cmd("cli/eval-result-json-reference-not-a-number", CheckpointError, ["result.json: reference.expert is 'high'"],
        ["expected a finite number or null"],
        lambda w: (with_result_json(w.policy, {"reference": {"random": 0.0, "expert": "high"}}),
                   ["eval", str(w.policy), "--episodes", "1"])[1]),
    cmd("cli/eval-result-json-reference-infinite", CheckpointError, ["reference.random is inf"],
        ["expected a finite number or null"],
        lambda w: (with_result_json(w.policy, '{"reference": {"random": Infinity, "expert": 500.0}}'),
                   ["eval", str(w.policy), "--episodes", "1"])[1]),
    cmd("cli/eval-result-json-a-list", CheckpointError, ["result.json: holds a list"], ["expected a JSON object"],
        lambda w: (with_result_json(w.policy, [1, 2]), ["eval", str(w.policy), "--episodes", "1"])[1]),
    cmd("cli/eval-result-json-corrupted", CheckpointError, ["result.json: not valid JSON"],
        ["expected the result.json a run writes"],
        lambda w: (with_result_json(w.policy, '{"reference": {"random"'), ["eval", str(w.policy), "--episodes", "1"])[1]),
    cmd("cli/train-rl-reward-run-with-a-bad-reference", CheckpointError, ["reference is [0, 500]"],
        ["expected an object"],
        lambda w: (with_result_json(gail_reward_checkpoint(w).parent, {"reference": [0, 500]}),
                   ["train", "rl", "CartPole-v1", "--reward", str(w.root / "gail-reward"), "--runs-dir", str(w.runs)])[1]),
    api("load/result-json-negative-train-time", CheckpointError, ["result.json: train_s is -3.0"],
        ["expected a finite number >= 0 or null"],
        lambda w: call(imitax.load, command_run(w, {"command": "train bc", "train_s": -3.0}))),
    api("load/result-json-unknown-backend", CheckpointError, ["result.json: backend is 'cuda'"],
        ["expected one of jax, gymnasium, tabular"],
        lambda w: call(imitax.load, command_run(w, {"command": "train bc", "backend": "cuda"}))),
    api("load/result-json-reference-with-unknown-keys", CheckpointError, ["reference is {'random': 0.0, 'best': 1.0}"],
        ["expected an object {\"random\""],
        lambda w: call(imitax.load, command_run(w, {"command": "train bc", "reference": {"random": 0.0, "best": 1.0}}))),
    api("load/result-json-command-not-text", CheckpointError, ["result.json: command is 7"], ["expected a string"],
        lambda w: call(imitax.load, command_run(w, {"command": 7}))),
    # ---- config.json, read back on --resume through the config dataclasses (each field's type is its schema)
    cmd("cli/resume-config-json-string-for-a-number", ConfigError, ["config.json does not fit", "bc.learning_rate is 'abc'"],
        ["expected a number"], resume_bc(lambda c: c["bc"].update(learning_rate="abc"))),
    cmd("cli/resume-config-json-float-for-an-integer", ConfigError, ["num_seeds is 2.5"], ["expected an integer"],
        resume_bc(lambda c: c.update(num_seeds=2.5))),
    cmd("cli/resume-config-json-nan", ConfigError, ["bc.ent_coef is nan"], ["expected a finite number"],
        resume_bc(lambda c: c["bc"].update(ent_coef=math.nan))),
    cmd("cli/resume-config-json-list-for-an-object", ConfigError, ["options is [1, 2]"], ["expected an object of RunOptions"],
        resume_bc(lambda c: c.update(options=[1, 2]))),
    cmd("cli/resume-config-json-number-for-true-false", ConfigError, ["options.progress is 1"], ["expected true or false"],
        resume_bc(lambda c: c["options"].update(progress=1))),
    cmd("cli/resume-config-json-text-for-layer-widths", ConfigError, ["bc.hidden_sizes is '256'"], ["expected a list"],
        resume_bc(lambda c: c["bc"].update(hidden_sizes="256"))),
    # ---- --resume with options that would record another run's identity for the saved state
    cmd("cli/resume-with-another-seed", ConfigError, ["--seed 5 differs from the run's 0"], ["expected the same (leave it out)"],
        lambda w: resume_bc(lambda c: None)(w) + ["--seed", "5"]),
    cmd("cli/resume-with-another-num-seeds", ConfigError, ["--num-seeds 3 differs from the run's 1"],
        ["expected the same (leave it out)"], lambda w: resume_bc(lambda c: None)(w) + ["--num-seeds", "3"]),
    cmd("cli/resume-with-another-env", ConfigError, ["the env id 'Acrobot-v1' differs from the run's 'CartPole-v1'"],
        ["expected the same (leave it out)"],
        lambda w: [arg if arg != "CartPole-v1" else "Acrobot-v1" for arg in resume_bc(lambda c: None)(w)]),
    cmd("cli/resume-state-with-text-for-iterations", CheckpointError, ["resume/meta.json: iterations is 'many'"],
        ["expected an integer >= 0"], resume_bc(lambda c: None, {"kind": "resume", "iterations": "many", "metric_rows": 0})),
    cmd("cli/resume-state-with-negative-metric-rows", CheckpointError, ["metric_rows is -4"], ["expected an integer >= 0"],
        resume_bc(lambda c: None, {"kind": "resume", "iterations": 2, "metric_rows": -4})),
    cmd("cli/eval-checkpoint-with-text-for-its-expert-return", CheckpointError, ["meta.json: expert_return is 'great'"],
        ["expected a finite number or null"],
        lambda w: (edit_meta_json(w, lambda m: m.update(expert_return="great")), ["eval", str(w.policy), "--episodes", "1"])[1]),
    api("checkpoint/nan-random-return", CheckpointError, ["meta.json: random_return is nan"], ["expected a finite number or null"],
        lambda w: call(load_policy, edit_meta_json(w, lambda m: m.update(random_return=math.nan)))),
    cmd("cli/collect-without-expert", CheckpointError, ["no expert for Acrobot-v1"], ["expected a folder expert-Acrobot-v1-*"],
        lambda w: ["collect", "Acrobot-v1", "--runs-dir", str(w.runs)]),
    cmd("cli/eval-checkpoint-whose-meta-names-another-env", CheckpointError, ["is a policy for Acrobot-v1 (obs 4,"],
        ["expected one for Acrobot-v1 (obs 6,"],
        lambda w: ["eval", str(edit_meta_json(w, lambda m: m["env_spec"].update(env_id="Acrobot-v1"))), "--episodes", "2"]),
    cmd("cli/collect-expert-of-another-env", CheckpointError, ["is a policy for CartPole-v1"], ["expected one for Acrobot-v1"],
        lambda w: ["collect", "Acrobot-v1", "--expert", str(w.policy), "--episodes", "1"]),
    # ---- output folders
    cmd("cli/runs-dir-is-a-file", OutputError, ["cannot create a run folder", "is a file, not a folder"], ["expected a writable folder"],
        lambda w: bc_cartpole()(w)[:5] + ["--runs-dir", str(w.file("runs-file")), "--no-progress"]),
    cmd("cli/runs-dir-name-not-utf8", ConfigError, ["--runs-dir", "is not valid UTF-8"], ["expected a name that is"],
        lambda w: bc_cartpole()(w)[:5] + ["--runs-dir", os.fsdecode(os.fsencode(w.root) + b"/runs\xff"), "--no-progress"]),
    cmd("cli/collect-dataset-id-not-utf8", ConfigError, ["is not valid UTF-8"], ["expected a name that is"],
        lambda w: ["collect", "CartPole-v1", "--expert", str(w.policy), "--episodes", "1",
                   "--dataset-id", os.fsdecode(b"mine/demos\xff-v0")]),
    cmd("cli/runs-dir-read-only", OutputError, ["cannot create a run folder"], ["expected a writable folder"],
        lambda w: ["expert", "CartPole-v1", "--ppo.total-steps", "2048", "--runs-dir", str(unwritable_folder(w)), "--no-progress"]),
    cmd("cli/resume-a-run-another-process-writes", RunLockedError, ["busy is being written by process", f"process {os.getpid()},"],
        ["expected one writer per run folder", "wait for it to finish or stop it"],
        lambda w: ["expert", "--resume", str(locked_run(w)), "--no-progress"]),
    cmd("cli/sweep-optuna-with-a-grid", ConfigError, ["proposes points from ranges only"], ["expected sample="],
        lambda w: ["sweep", "gail", "CartPole-v1", "--demos", CARTPOLE_DEMOS, "--runs-dir", str(w.runs), "--search", "optuna",
                   "--grid", "gail.disc-learning-rate=1e-3,3e-3", "--sample", "gail.ppo.learning-rate=1e-4:1e-3",
                   "--num-samples", "4"]),
    cmd("cli/sweep-optuna-more-rounds-than-points", ConfigError, ["rounds (5) exceeds num_samples (2)"],
        ["expected at least one point per round"],
        lambda w: ["sweep", "gail", "CartPole-v1", "--demos", CARTPOLE_DEMOS, "--runs-dir", str(w.runs), "--search", "optuna",
                   "--sample", "gail.disc-learning-rate=1e-4:1e-2", "--num-samples", "2", "--rounds", "5"]),
    cmd("cli/sweep-unknown-search", ConfigError, ["unknown --search 'grid'"], ["expected one of random, optuna"],
        lambda w: ["sweep", "gail", "CartPole-v1", "--demos", CARTPOLE_DEMOS, "--runs-dir", str(w.runs), "--search", "grid",
                   "--sample", "gail.disc-learning-rate=1e-4:1e-2", "--num-samples", "2"]),
    cmd("cli/sweep-a-field-the-run-leaves-unused", ConfigError,
        ["sweep field sac.alpha_learning_rate has no effect", "the temperature is fixed"], ["expected a field the run uses"],
        lambda w: ["sweep", "sqil", "CartPole-v1", "--demos", CARTPOLE_DEMOS, "--runs-dir", str(w.runs),
                   "--grid", "sqil.sac.alpha-learning-rate=1e-4,1e-3"]),
    api("output/checkpoint-in-unwritable-folder", OutputError, ["cannot write checkpoint"], ["expected a writable folder"],
        lambda w: call(save_checkpoint, unwritable_folder(w) / "ckpt", {"w": np.zeros(2)}, {"kind": "policy"})),
]


@pytest.fixture
def raised(monkeypatch) -> list[BaseException]:
    """The exceptions raised inside `imitax.cli.main` (parsing, config validation or the command)."""
    errors: list[BaseException] = []

    def recording(function):
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except BaseException as error:
                errors.append(error)
                raise
        return wrapper

    commands = cli._commands
    monkeypatch.setattr(cli, "_commands", lambda: {name: (config_type, recording(run))
                                                   for name, (config_type, run) in commands().items()})
    monkeypatch.setattr(common, "validate_all", recording(common.validate_all))
    monkeypatch.setattr(cli, "_parse", recording(cli._parse))
    return errors


def test_the_table_covers_enough():
    assert len(CASES) >= 30 and len({case.id for case in CASES}) == len(CASES)
    assert all(case.wrong and case.expected for case in CASES)
    assert sum(case.cli for case in CASES) >= 10
    covered = {case.error for case in CASES}
    assert {DatasetError, CheckpointError, ConfigError, UnknownEnvError, OutputError} <= covered


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, world: World, raised, capsys):
    bad_call = case.act(world)
    if isinstance(bad_call, tuple):  # (damage steps..., the bad call)
        bad_call = bad_call[-1]
    before = snapshot(world.root)
    if case.cli:
        code = cli.main(bad_call)
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert code == 2, (bad_call, captured.err)
        assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
        message = lines[0]
        assert raised and type(raised[-1]) is case.error, (raised, message)
    else:
        with pytest.raises(ImitaxError) as caught:
            bad_call()
        assert type(caught.value) is case.error, repr(caught.value)
        message = str(caught.value)
    for word in (*case.wrong, *case.expected):
        assert word in message, (word, message)
    assert "\n" not in message
    assert snapshot(world.root) == before, "the failed call left something behind or changed existing data"


def test_unknown_commands_exit_2_with_one_line(capsys):
    for argv, words in ((["fly"], "unknown command 'fly'; expected one of: expert"),
                        (["train"], "`imitax train` needs an algorithm")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err


# ---------------------------------------------------------------------------- refused after the run folder exists


def test_a_run_refused_after_its_folder_exists_leaves_no_folder(world, monkeypatch, capsys):
    import imitax.commands.train as train_command

    def diverging_train_bc(*args, **kwargs):
        raise ConfigError("bc loss became NaN at epoch 3; expected finite losses (lower --bc.learning-rate)")

    monkeypatch.setattr(train_command, "train_bc", diverging_train_bc)
    before = snapshot(world.root)
    assert cli.main(bc_cartpole()(world)) == 2
    assert "loss became NaN" in capsys.readouterr().err
    assert snapshot(world.root) == before  # the run folder start_run made is gone


def test_a_run_that_saved_state_is_kept_after_a_failure(world, monkeypatch, capsys):
    import imitax.commands.train as train_command

    def start_and_save_state(*args, **kwargs):
        run_dir = real_start_run(*args, **kwargs)
        (run_dir / "resume").mkdir()
        return run_dir

    def diverging_train_bc(*args, **kwargs):
        raise ConfigError("bc loss became NaN at epoch 3; expected finite losses")

    real_start_run = train_command.start_run
    monkeypatch.setattr(train_command, "start_run", start_and_save_state)
    monkeypatch.setattr(train_command, "train_bc", diverging_train_bc)
    assert cli.main(bc_cartpole()(world)) == 2
    runs = list(world.runs.iterdir())
    assert len(runs) == 1 and (runs[0] / "resume").is_dir() and (runs[0] / "config.json").is_file()


def test_discard_failed_runs_in_the_python_api(tmp_path):
    from imitax.io.run_dir import discard_failed_runs, make_run_dir

    with pytest.raises(DatasetError), discard_failed_runs():
        make_run_dir(tmp_path, "refused")
        raise DatasetError("demos: no episodes; expected at least one episode")
    with pytest.raises(RuntimeError), discard_failed_runs():  # a bug, not a user mistake: kept for inspection
        make_run_dir(tmp_path, "crashed")
        raise RuntimeError("bug")
    with discard_failed_runs():
        make_run_dir(tmp_path, "fine")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashed", "fine"]


def test_a_full_disk_during_a_run_is_one_line_and_leaves_no_folder(world, monkeypatch, capsys):
    import errno

    import imitax.commands.train as train_command

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(world.runs / "x" / "metrics.csv"))

    monkeypatch.setattr(train_command, "train_bc", disk_full)
    before = snapshot(world.root)
    assert cli.main(bc_cartpole()(world)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "metrics.csv" in err, err
    assert "expected free disk space" in err
    assert snapshot(world.root) == before


def test_memory_estimates_count_what_the_run_allocates(monkeypatch):
    """The chosen generator's buffers count, the other's do not; seeds multiply; a run that fits passes."""
    from imitax.algos.gail import GAILConfig
    from imitax.commands.resources import MemoryItem, check_memory, estimate, transition_bytes
    from imitax.rl.sac import SACConfig

    pendulum = imitax.make("Pendulum-v1").spec
    assert transition_bytes(pendulum) == 4 * (2 * 3 + 1 + 3)
    sac = SACConfig(total_steps=1_000_000, buffer_size=1_000_000)
    items = estimate(sac, pendulum, num_seeds=4)
    replay = next(item for item in items if "replay buffer" in item.what)
    assert replay.bytes == 2 * 4 * sac.buffer_capacity * transition_bytes(pendulum)
    ppo_gail = sum(item.bytes for item in estimate(GAILConfig(), pendulum))
    sac_gail = sum(item.bytes for item in estimate(GAILConfig(generator="sac", sac=sac), pendulum))
    assert ppo_gail < 50 * 2**20 < sac_gail  # GAIL with PPO keeps no million-transition replay
    check_memory(items, available=2**40)
    with pytest.raises(ResourceError, match="the largest part is the sac replay buffer"):
        check_memory(items, available=2**20)
    import imitax.commands.resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: None)
    check_memory([MemoryItem("anything", 2**50)])  # the machine's memory unknown: no check
