"""Nothing loaded runs code: real pickle payloads planted under a checkpoint's and a dataset's
file names are refused by every public loader, unread, and the library source holds no
pickle, `allow_pickle=True`, `eval` or `exec`.

Each payload, if unpickled, would create a marker file; every test checks it was not created.
"""

from __future__ import annotations

import ast
import pickle
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

import imitax
from imitax.algos.gail import GAIL, GAILConfig
from imitax.cli import main
from imitax.data.minari_io import load_demonstrations, save_demonstrations
from imitax.data.types import Trajectory
from imitax.envs.spec import Discrete, EnvSpec
from imitax.errors import CheckpointError, DatasetError
from imitax.io.checkpoint import load_checkpoint, save_checkpoint
from imitax.io.policy_checkpoint import load_policy, save_policy
from imitax.io.reward_checkpoint import load_reward
from imitax.nets.normalizer import ObsNormalizer
from imitax.nets.policy import Policy

CARTPOLE = EnvSpec("CartPole-v1", 4, Discrete(2), 500)
PROTOCOLS = (0, 2, pickle.HIGHEST_PROTOCOL)


class CreatesMarker:
    """Unpickling this calls `open(path, "w")`: the file appearing proves the pickle ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def payload(marker: Path, protocol: int) -> bytes:
    data = pickle.dumps(CreatesMarker(marker), protocol=protocol)
    assert not marker.exists()
    return data


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "marker"
    pickle.loads(payload(marker, pickle.HIGHEST_PROTOCOL)).close()  # the control: this is what loaders must never do
    assert marker.exists()


@pytest.fixture
def policy_checkpoint(tmp_path) -> Path:
    policy = Policy(CARTPOLE, (8,), "tanh")
    return save_policy(tmp_path / "run" / "checkpoint", policy, policy.init(jax.random.PRNGKey(0)), algorithm="bc")


@pytest.fixture
def reward_checkpoint(tmp_path) -> Path:
    """A reward/ folder as `imitax train gail` writes it."""
    discriminator = GAIL(GAILConfig(), CARTPOLE).discriminator
    params = discriminator.init(jax.random.PRNGKey(0), ObsNormalizer.identity(CARTPOLE.obs_dim))
    return save_checkpoint(tmp_path / "gail-run" / "reward", params,
                           {"kind": "reward", "algorithm": "gail", "env_spec": CARTPOLE.to_dict(),
                            "network": discriminator.config(), "reward": "positive"})


@pytest.fixture
def dataset(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    rng = np.random.default_rng(0)
    episodes = [Trajectory(rng.normal(size=(n + 1, 4)).astype(np.float32), rng.integers(0, 2, n).astype(np.int32),
                           np.ones(n, np.float32), True) for n in (4, 6)]
    return save_demonstrations("cartpole/demos-v0", episodes, CARTPOLE, expert_score=500.0, random_score=20.0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("file_name", ["params.msgpack", "meta.json"])
def test_checkpoint_loaders_refuse_planted_pickles(policy_checkpoint, reward_checkpoint, tmp_path, capsys,
                                                   file_name, protocol):
    marker = tmp_path / "marker"
    for folder in (policy_checkpoint, reward_checkpoint):
        (folder / file_name).write_bytes(payload(marker, protocol))
    loaders = {
        "load_checkpoint": lambda: load_checkpoint(policy_checkpoint),
        "load_policy": lambda: load_policy(policy_checkpoint),
        "load_policy(run folder)": lambda: load_policy(policy_checkpoint.parent),
        "load_reward": lambda: load_reward(reward_checkpoint),
    }
    for name, load in loaders.items():
        with pytest.raises(CheckpointError) as caught:
            load()
        message = str(caught.value)
        assert f"{file_name} is a pickle" in message and "never opens it" in message, (name, message)
    assert main(["eval", str(policy_checkpoint.parent)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{file_name} is a pickle" in err[0], err
    assert not marker.exists()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_pickle_in_place_of_a_checkpoint_folder_is_refused(tmp_path, protocol):
    marker = tmp_path / "marker"
    planted = tmp_path / "policy.pkl"
    planted.write_bytes(payload(marker, protocol))
    with pytest.raises(CheckpointError, match="policy.pkl is a pickle"):
        load_policy(planted)
    folder = tmp_path / "not-a-checkpoint"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(payload(marker, protocol))
    with pytest.raises(CheckpointError, match="model.pkl is a pickle"):
        load_checkpoint(folder)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("file_name", ["main_data.hdf5", "metadata.json"])
def test_dataset_loaders_refuse_planted_pickles(dataset, tmp_path, capsys, file_name, protocol):
    marker = tmp_path / "marker"
    planted = dataset / "data" / file_name
    planted.write_bytes(payload(marker, protocol))
    copy = tmp_path / "copied-dataset"  # the same dataset given as a folder path
    shutil.copytree(dataset, copy)
    for dataset_id in ("cartpole/demos-v0", str(copy)):
        with pytest.raises(DatasetError) as caught:
            load_demonstrations(dataset_id, spec=CARTPOLE)
        message = str(caught.value)
        assert f"{file_name} is a pickle" in message and "never opens it" in message, message
        assert "expected minari's" in message
    runs = tmp_path / "runs"
    assert main(["train", "bc", "CartPole-v1", "--demos", str(copy), "--runs-dir", str(runs), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{file_name} is a pickle" in err[0], err
    assert not runs.exists() or not any(runs.iterdir())
    assert not marker.exists()


def test_dataset_metadata_cannot_make_minari_build_an_environment(dataset, tmp_path):
    """Without recorded spaces minari would `gym.make` the env_spec in metadata.json, importing and
    calling its entry point; imitax refuses such a file instead."""
    import json

    marker = tmp_path / "marker"
    metadata_file = dataset / "data" / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    del metadata["observation_space"], metadata["action_space"]
    metadata["env_spec"] = json.dumps({"id": "Evil-v0", "entry_point": "builtins:open", "kwargs": {"file": str(marker), "mode": "w"},
                                       "max_episode_steps": 10})
    metadata_file.write_text(json.dumps(metadata))
    with pytest.raises(DatasetError, match="lacks observation_space and action_space; expected the serialised spaces"):
        load_demonstrations("cartpole/demos-v0")
    assert not marker.exists()


# ---------------------------------------------------------------------------- the source


FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "torch"}
FORBIDDEN_CALLS = {"eval", "exec", "__import__", "compile"}


def forbidden_uses(source: str, name: str = "<sample>") -> list[str]:
    """Imports of pickle-like modules, eval/exec/compile/__import__ calls, YAML object loaders
    and `allow_pickle=` anything but False, found in the syntax tree of `source`."""
    problems = []
    for node in ast.walk(ast.parse(source, filename=name)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            problems += [f"{where} imports {alias.name}" for alias in node.names
                         if alias.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            problems.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id in FORBIDDEN_CALLS:
                problems.append(f"{where} calls {function.id}(")
            if isinstance(function, ast.Attribute) and (function.attr == "unsafe_load" or (
                    function.attr in ("load", "load_all") and isinstance(function.value, ast.Name) and function.value.id == "yaml")):
                problems.append(f"{where} calls a YAML loader that builds objects")
            for keyword in node.keywords:
                if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    problems.append(f"{where} passes allow_pickle={ast.unparse(keyword.value)}")
    return problems


def test_library_source_never_unpickles_or_evaluates():
    files = sorted(Path(imitax.__file__).parent.rglob("*.py"))
    assert len(files) > 20
    problems = [problem for file in files for problem in forbidden_uses(file.read_text(encoding="utf-8"), file.name)]
    assert problems == []


def test_the_source_check_is_not_vacuous():
    sample = ("import pickle\nfrom dill import loads\nimport numpy as np\nimport yaml\n"
              "np.load('a.npy', allow_pickle=True)\neval('1')\nexec('x = 1')\nyaml.load(text)\n"
              "np.load('b.npy', allow_pickle=False)\nevaluate(policy)\n")
    assert len(forbidden_uses(sample)) == 6
