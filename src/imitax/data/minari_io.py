"""Demonstrations as Minari datasets: validated, atomic saves and validated loads.

On disk (minari's HDF5 layout, readable by `minari.load_dataset`):

    <root>/<namespace>/<name>-vN/data/main_data.hdf5   one group per episode
    <root>/<namespace>/<name>-vN/data/metadata.json    minari's metadata, plus "imitax_spec"

`root` is `$MINARI_DATASETS_PATH`, or `~/.minari/datasets`. Besides minari's keys
(spaces, `ref_min_score`, `ref_max_score`, ...), imitax records its `EnvSpec` under
`imitax_spec` so a later load knows the environment; datasets written by other tools
("foreign" datasets) load too when their spaces are flat enough (see `load_demonstrations`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import shutil
import uuid
from collections.abc import Sequence
from typing import Any

import gymnasium
import h5py
import minari
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.dataset.minari_dataset import parse_dataset_id
from minari.dataset.minari_storage import MinariStorage
from minari.namespace import create_namespace, list_local_namespaces

from imitax.data.types import Trajectory, Transitions, flatten_trajectories
from imitax.data.validate import episode_terminated, validate_env_id, validate_trajectories
from imitax.envs.spec import Box, Discrete, EnvSpec, box_bounds, flat_dim
from imitax.errors import DatasetError, OutputError, os_reason
from imitax.schema import Fields
from imitax.sniff import code_format, is_hdf5, read_head
from imitax.staging import make_staging_folder, remove_stale

IMITAX_SPEC_KEY = "imitax_spec"
METADATA_FILE = "metadata.json"
DATA_FILE = "main_data.hdf5"
EPISODE_FIELDS = ("observations", "actions", "rewards", "terminations", "truncations")
STAGING_PREFIX = ".imitax-tmp-"  # hidden, so neither minari nor `list_local_datasets` lists it
SUPPORTED_SPACES = "supported: a Box observation space (multi-dimensional ones are flattened) with a Discrete or Box action space"


@dataclasses.dataclass(frozen=True)
class Demonstrations:
    """Expert episodes loaded from a Minari dataset.

    Attributes:
        dataset_id: the id (or folder) it was loaded from.
        trajectories: the episodes; `obs: f32[n + 1, obs_dim]`, `actions: i32[n]` or
            `f32[n, action_dim]`, `rewards: f32[n]`.
        spec: the imitax `EnvSpec` recorded at save time (None for foreign datasets).
        expert_score: `ref_max_score`, the expert's mean return (None when not recorded).
        random_score: `ref_min_score`, a random policy's mean return (None when not recorded).
    """

    dataset_id: str
    trajectories: list[Trajectory]
    spec: EnvSpec | None
    expert_score: float | None
    random_score: float | None

    @property
    def num_transitions(self) -> int:
        return int(sum(len(trajectory) for trajectory in self.trajectories))

    @property
    def expert_reference(self) -> float:
        """The expert's mean return to normalise with: `expert_score`, or where the dataset
        recorded none the demonstrations' own mean episode return."""
        if self.expert_score is not None:
            return self.expert_score
        return float(sum(trajectory.episode_return for trajectory in self.trajectories) / len(self.trajectories))

    def transitions(self) -> Transitions:
        """All episodes as one flat `Transitions`, `[num_transitions]`."""
        return flatten_trajectories(self.trajectories)


def dataset_root() -> pathlib.Path:
    """The folder holding local Minari datasets: `$MINARI_DATASETS_PATH` or `~/.minari/datasets`,
    made absolute (minari's writer joins a relative root to itself)."""
    configured = os.environ.get("MINARI_DATASETS_PATH")
    return (pathlib.Path(configured) if configured else pathlib.Path.home() / ".minari" / "datasets").absolute()


def list_local_datasets() -> list[str]:
    """Ids of the datasets under `dataset_root()`, sorted (e.g. `["cartpole/expert-v0"]`)."""
    root = dataset_root()
    if not root.is_dir():
        return []
    found: list[str] = []

    def visit(folder: pathlib.Path) -> None:
        for child in sorted(folder.iterdir()):
            if not child.is_dir() or child.name.startswith("."):
                continue
            if (child / "data").is_dir():
                found.append(child.relative_to(root).as_posix())
            else:
                visit(child)

    visit(root)
    return sorted(found)


# --------------------------------------------------------------------------------------
# save


def save_demonstrations(
    dataset_id: str,
    trajectories: Sequence[Trajectory],
    spec: EnvSpec,
    *,
    expert_score: float,
    random_score: float,
    algorithm_name: str = "imitax-expert",
    description: str | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Validate `trajectories` and write them as the Minari dataset `dataset_id`.

    The dataset is built in a hidden staging folder under `dataset_root()` and renamed
    into place, so a failure leaves no partial dataset behind (and, with `overwrite`,
    the old dataset intact).

    Args:
        dataset_id: `namespace/name-vN`, e.g. `"cartpole/expert-v0"`.
        trajectories: episodes of the environment `spec` (checked by `validate_trajectories`).
        spec: the environment; recorded so that a load knows it.
        expert_score: the expert's mean return (minari's `ref_max_score`).
        random_score: a random policy's mean return (minari's `ref_min_score`).
        overwrite: replace an existing dataset of that id.

    Returns:
        The dataset folder, `<root>/<dataset_id>`.

    Raises:
        DatasetError: malformed id, invalid trajectories or scores, or an existing dataset
            without `overwrite`.
        OutputError: the dataset root cannot be written (nothing is left behind).
    """
    namespace, _, _ = _parse_id(dataset_id)
    check_new_dataset_id(dataset_id, overwrite=overwrite)
    validate_trajectories(trajectories, spec, source=dataset_id)
    _check_scores(dataset_id, expert_score=expert_score, random_score=random_score)
    root = dataset_root()
    target = root / dataset_id
    metadata = {
        "dataset_id": dataset_id,
        "algorithm_name": algorithm_name,
        "description": description or f"{len(trajectories)} episodes on {spec.env_id}, saved by imitax",
        "ref_max_score": float(expert_score),
        "ref_min_score": float(random_score),
        IMITAX_SPEC_KEY: spec.to_dict(),
    }
    staging = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale(root, STAGING_PREFIX)  # what a killed `collect` left
        staging = make_staging_folder(root, STAGING_PREFIX)
        _write_storage(staging / "data", trajectories, spec, metadata)
        if namespace is not None and namespace not in list_local_namespaces():
            create_namespace(namespace)
        _move_into_place(staging, target)
    except OSError as error:
        raise OutputError(f"cannot write dataset {dataset_id!r} under {root}: {os_reason(error)}; "
                          "expected a writable folder with free space (MINARI_DATASETS_PATH)") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful move
    return target


def check_new_dataset_id(dataset_id: str, *, overwrite: bool = False) -> None:
    """Raise DatasetError unless `save_demonstrations(dataset_id, ..., overwrite=overwrite)` may
    write there: a well-formed id, not taken (or `overwrite`). Commands call it before collecting."""
    _parse_id(dataset_id)
    target = dataset_root() / dataset_id
    if target.exists() and not overwrite:
        raise DatasetError(
            f"dataset {dataset_id!r} already exists at {target}; pass overwrite=True (--overwrite) "
            f"to replace it, or choose another id (e.g. {_next_version(dataset_id)})"
        )


def _write_storage(data_path: pathlib.Path, trajectories: Sequence[Trajectory], spec: EnvSpec,
                   metadata: dict[str, Any]) -> None:
    """Write minari's `main_data.hdf5` and `metadata.json` into `data_path`."""
    storage = MinariStorage.new(
        data_path,
        observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (spec.obs_dim,), np.float32),
        action_space=_gymnasium_action_space(spec),
        env_spec=_serialisable_env_spec(spec.env_id),
        data_format="hdf5",
    )
    storage.update_metadata({**metadata, "minari_version": minari.__version__})
    storage.update_episodes(_episode_buffer(index, trajectory, spec) for index, trajectory in enumerate(trajectories))


def _serialisable_env_spec(env_id: str) -> gymnasium.envs.registration.EnvSpec | None:
    """Gymnasium's spec of `env_id` for minari's `env_spec` metadata, or None when gymnasium
    does not know the id (an instance) or cannot write it as JSON (an env registered with a
    class entry point, the usual way to register one's own): imitax's own spec and the
    reference scores are stored either way."""
    env_spec = gymnasium.envs.registry.get(env_id)
    if env_spec is None:
        return None
    try:
        env_spec.to_json()
    except (ValueError, TypeError):
        return None
    return env_spec


def _gymnasium_action_space(spec: EnvSpec) -> gymnasium.spaces.Space:
    space = spec.action_space
    if isinstance(space, Discrete):
        return gymnasium.spaces.Discrete(space.n)
    return gymnasium.spaces.Box(space.low_array, space.high_array, dtype=np.float32)


def _episode_buffer(index: int, trajectory: Trajectory, spec: EnvSpec) -> EpisodeBuffer:
    """One episode in minari's layout: obs f32[n + 1, obs_dim], actions i64[n] or
    f32[n, action_dim], rewards f32[n], terminations / truncations bool[n] (last step only)."""
    length = len(trajectory)
    terminations = np.zeros(length, bool)
    truncations = np.zeros(length, bool)
    (terminations if trajectory.terminated else truncations)[-1] = True
    return EpisodeBuffer(
        id=index,
        observations=np.asarray(trajectory.obs, np.float32),
        actions=np.asarray(trajectory.actions, np.int64 if spec.discrete else np.float32),
        rewards=np.asarray(trajectory.rewards, np.float32),
        terminations=terminations,
        truncations=truncations,
    )


def _move_into_place(staging: pathlib.Path, target: pathlib.Path) -> None:
    """Rename the finished `staging` folder to `target`, replacing what is there only on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    if target.exists():
        previous = target.with_name(f"{STAGING_PREFIX}old-{uuid.uuid4().hex}")
        os.rename(target, previous)
    try:
        os.rename(staging, target)
    except OSError as error:
        if previous is not None:
            os.rename(previous, target)
        raise OutputError(f"could not move the new dataset into place at {target}: {os_reason(error)}; "
                          "expected a writable folder") from None
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _parse_id(dataset_id: str) -> tuple[str | None, str, int]:
    """(namespace, name, version) of `namespace/name-vN`; DatasetError when malformed."""
    try:
        return parse_dataset_id(dataset_id)
    except (ValueError, TypeError):
        raise DatasetError(
            f"malformed dataset id {dataset_id!r}: expected namespace/name-vN, e.g. 'cartpole/expert-v0' "
            "(letters, digits, '-', '_'; a namespace of at least two characters)"
        ) from None


def _next_version(dataset_id: str) -> str:
    namespace, name, version = parse_dataset_id(dataset_id)
    return f"{namespace + '/' if namespace else ''}{name}-v{version + 1}"


def _check_scores(dataset_id: str, **scores: float) -> None:
    for name, score in scores.items():
        if not isinstance(score, (int, float, np.number)) or not math.isfinite(float(score)):
            raise DatasetError(f"{dataset_id}: {name} must be a finite number, found {score!r}")


# --------------------------------------------------------------------------------------
# load


def load_demonstrations(dataset_id: str, spec: EnvSpec | None = None) -> Demonstrations:
    """Load and validate the Minari dataset `dataset_id` (an id under `dataset_root()`, or
    the path of a dataset folder, the one holding `data/`).

    The episodes are checked against `spec` when given, else against the spec recorded
    at save time, else against the dataset's own spaces. When both `spec` and the
    dataset's environment id are known they must agree.

    Foreign datasets (not written by imitax) load when their observation space is a Box
    (flattened to `obs_dim`) and their action space Discrete or Box.

    Raises:
        DatasetError: a missing dataset (the message lists the local ones), a missing or
            corrupted metadata or HDF5 file, unsupported spaces, data from another
            environment, or episodes that fail `validate_trajectories`.
    """
    data_path = _resolve_data_path(dataset_id)
    source = dataset_id
    metadata = _read_metadata(data_path, source)
    _check_data_file(data_path, metadata, source)
    storage = _open_storage(data_path, source)
    _check_episode_fields(storage, source)
    _check_supported_spaces(storage.observation_space, storage.action_space, source)
    recorded_spec, recorded_env_id = metadata.spec, metadata.env_id
    if spec is not None:
        validate_env_id(recorded_env_id, spec, source=source)
    trajectories = [
        _trajectory(episode, index, storage.action_space, source) for index, episode in enumerate(_read_episodes(storage, source))
    ]
    check_spec = spec or recorded_spec or _spec_from_spaces(storage, metadata, recorded_env_id or dataset_id, trajectories)
    validate_trajectories(trajectories, check_spec, source=source)
    return Demonstrations(
        dataset_id=dataset_id,
        trajectories=[_canonical(trajectory, check_spec) for trajectory in trajectories],
        spec=recorded_spec,
        expert_score=metadata.expert_score,
        random_score=metadata.random_score,
    )


def _resolve_data_path(dataset_id: str) -> pathlib.Path:
    """The `data/` folder of `dataset_id`: first under `dataset_root()`, then as a path."""
    root = dataset_root()
    for folder in (root / dataset_id, pathlib.Path(dataset_id).expanduser()):
        if (folder / "data").is_dir():
            return folder / "data"
        if (folder / METADATA_FILE).is_file() or (folder / "main_data.hdf5").is_file():
            return folder  # the data folder itself
    available = ", ".join(list_local_datasets()) or "none"
    raise DatasetError(
        f"no Minari dataset {dataset_id!r}: not found under {root} (MINARI_DATASETS_PATH) nor as a dataset "
        f"folder at that path; local datasets available: {available}"
    )


@dataclasses.dataclass(frozen=True)
class DatasetMetadata:
    """The fields of a dataset's metadata.json that imitax reads, each checked by `_read_metadata`:

        observation_space, action_space: str   minari's serialised spaces (required: without them
                                               minari would build the recorded environment)
        data_format: str                       absent: "hdf5"
        total_episodes: int >= 0
        imitax_spec: EnvSpec's dict | absent   (`EnvSpec.from_fields`)
        env_spec: str | absent                 Gymnasium's EnvSpec as JSON: id a string,
                                               max_episode_steps an integer >= 1 or null
        ref_max_score, ref_min_score: finite number | null | absent
    """

    data_format: str
    total_episodes: int
    spec: EnvSpec | None
    gymnasium_env_id: str | None
    gymnasium_max_episode_steps: int | None
    expert_score: float | None
    random_score: float | None

    @property
    def env_id(self) -> str | None:
        """The recorded environment's id: imitax's spec's, else Gymnasium's."""
        return self.spec.env_id if self.spec is not None else self.gymnasium_env_id


def _read_metadata(data_path: pathlib.Path, source: str) -> DatasetMetadata:
    metadata_file = data_path / METADATA_FILE
    if not metadata_file.is_file():
        raise DatasetError(f"{source}: missing metadata file {metadata_file}; not a complete Minari dataset "
                           f"(expected {METADATA_FILE} beside {DATA_FILE})")
    _refuse_code_format(metadata_file, source, "minari's JSON metadata")
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{source}: corrupted metadata file {metadata_file}: {error}; expected minari's JSON metadata") from None
    if not isinstance(metadata, dict):
        raise DatasetError(f"{source}: corrupted metadata file {metadata_file}: expected a JSON object")
    missing = [key for key in ("observation_space", "action_space") if not isinstance(metadata.get(key), str)]
    if missing:
        # Without them minari builds the recorded environment, running the entry point named in the file.
        raise DatasetError(f"{source}: {metadata_file} lacks {' and '.join(missing)}; expected the serialised "
                           "spaces minari writes (imitax never builds the recorded environment to learn them: "
                           "that would run code the file names)")
    fields = Fields(metadata, f"{source}: {metadata_file}", DatasetError)
    spec = EnvSpec.from_fields(fields.section(IMITAX_SPEC_KEY)) if fields.has(IMITAX_SPEC_KEY) else None
    gymnasium_id, gymnasium_steps = _gymnasium_spec(fields)
    return DatasetMetadata(fields.text("data_format", default="hdf5"), fields.integer("total_episodes", low=0), spec,
                           gymnasium_id, gymnasium_steps, fields.number("ref_max_score", default=None),
                           fields.number("ref_min_score", default=None))


def _gymnasium_spec(fields: Fields) -> tuple[str | None, int | None]:
    """(id, max_episode_steps) of minari's `env_spec` entry (Gymnasium's EnvSpec as a JSON string)."""
    text = fields.text("env_spec", default=None)
    if text is None:
        return None, None
    try:
        gymnasium_spec = Fields(json.loads(text), fields.source, DatasetError, "env_spec")
    except ValueError:
        fields.fail("env_spec", text, "Gymnasium's EnvSpec as a JSON string")
    return gymnasium_spec.text("id", default=None), gymnasium_spec.integer("max_episode_steps", default=None, low=1)


def _check_data_file(data_path: pathlib.Path, metadata: DatasetMetadata, source: str) -> None:
    """The HDF5 file is there and is HDF5 (a pickle or anything else is refused unread)."""
    if metadata.data_format != "hdf5":
        return  # minari's other formats (arrow) carry no code either; minari checks them
    data_file = data_path / DATA_FILE
    if not data_file.is_file():
        raise DatasetError(f"{source}: cannot open the Minari dataset at {data_path}: {DATA_FILE} is missing; "
                           f"expected it beside {METADATA_FILE}")
    _refuse_code_format(data_file, source, "minari's HDF5 data file")
    if not is_hdf5(data_file):
        raise DatasetError(f"{source}: {data_file} is not an HDF5 file (no HDF5 signature: a truncated or "
                           "corrupted file?); expected minari's HDF5 data file")


def _refuse_code_format(file: pathlib.Path, source: str, expected: str) -> None:
    kind = code_format(read_head(file))
    if kind is not None:
        raise DatasetError(f"{source}: {file} is {kind}, which can run code when loaded, so imitax never "
                           f"opens it (it uses no pickle); expected {expected}")


def _check_episode_fields(storage: MinariStorage, source: str) -> None:
    """Every episode group of the HDF5 file holds the five fields minari writes."""
    data_file = storage.data_path / DATA_FILE
    if not data_file.is_file():
        return
    try:
        with h5py.File(data_file, "r") as file:
            for index in range(storage.total_episodes):
                group = file.get(f"episode_{index}")
                if group is None:
                    raise DatasetError(
                        f"{source}: episode {index} is missing from {data_file} ({METADATA_FILE} says "
                        f"{storage.total_episodes} episodes); expected groups episode_0 .. episode_{storage.total_episodes - 1}")
                missing = [field for field in EPISODE_FIELDS if field not in group]
                if missing:
                    raise DatasetError(f"{source}: episode {index}, {missing[0]}: missing from {data_file}; "
                                       f"expected the fields {', '.join(EPISODE_FIELDS)}")
    except DatasetError:
        raise
    except Exception as error:  # h5py raises OSError/KeyError/RuntimeError/... on damaged files
        raise DatasetError(f"{source}: cannot read {data_file}: {_describe(error)} (a truncated or corrupted "
                           "HDF5 file?); expected a complete HDF5 file written by minari") from None


def _open_storage(data_path: pathlib.Path, source: str) -> MinariStorage:
    try:
        return MinariStorage.read(data_path)
    except Exception as error:  # minari raises bare ValueError/AssertionError/KeyError/...
        raise DatasetError(f"{source}: cannot open the Minari dataset at {data_path}: {_describe(error)}") from None


def _read_episodes(storage: MinariStorage, source: str) -> list[dict[str, Any]]:
    """Every episode as minari's dict: observations, actions, rewards, terminations, truncations."""
    try:
        return list(storage.get_episodes(range(storage.total_episodes)))
    except Exception as error:  # h5py raises OSError/KeyError/ValueError/... on damaged files
        data_file = storage.data_path / "main_data.hdf5"
        raise DatasetError(
            f"{source}: cannot read the episodes of {data_file}: {_describe(error)} "
            "(a truncated or corrupted HDF5 file?); expected a complete HDF5 file written by minari"
        ) from None


def _check_supported_spaces(observation_space: gymnasium.Space, action_space: gymnasium.Space, source: str) -> None:
    obs_ok = (
        isinstance(observation_space, gymnasium.spaces.Box)
        and np.dtype(observation_space.dtype).kind in "iuf"
        and not _is_image_space(observation_space)
    )
    if not obs_ok:
        raise DatasetError(f"{source}: unsupported observation space {observation_space}; {SUPPORTED_SPACES}")
    discrete_ok = isinstance(action_space, gymnasium.spaces.Discrete) and int(action_space.start) == 0
    box_ok = isinstance(action_space, gymnasium.spaces.Box) and np.dtype(action_space.dtype).kind == "f"
    if not (discrete_ok or box_ok):
        raise DatasetError(
            f"{source}: unsupported action space {action_space}; {SUPPORTED_SPACES} (Discrete actions starting at 0)"
        )


def _is_image_space(space: gymnasium.spaces.Box) -> bool:
    return np.dtype(space.dtype) == np.uint8 and len(space.shape) >= 2


def _trajectory(episode: dict[str, Any], index: int, action_space: gymnasium.Space, source: str) -> Trajectory:
    """A minari episode as a `Trajectory` with the stored dtypes (checked before any cast):
    obs [n + 1, flat_obs_dim], actions [n] (Discrete) or [n, flat_action_dim] (Box)."""
    obs = np.asarray(episode["observations"])
    actions = np.asarray(episode["actions"])
    obs = obs.reshape(obs.shape[0], -1) if obs.ndim >= 1 else obs
    if isinstance(action_space, gymnasium.spaces.Box) and actions.ndim >= 1:
        actions = actions.reshape(actions.shape[0], -1)
    terminated = episode_terminated(
        np.asarray(episode["terminations"]), np.asarray(episode["truncations"]), source=source, episode=index
    )
    return Trajectory(obs=obs, actions=actions, rewards=np.asarray(episode["rewards"]), terminated=terminated)


def _spec_from_spaces(storage: MinariStorage, metadata: DatasetMetadata, env_id: str,
                      trajectories: Sequence[Trajectory]) -> EnvSpec:
    """An `EnvSpec` for a foreign dataset, from its own spaces."""
    obs_space, action_space = storage.observation_space, storage.action_space
    if isinstance(action_space, gymnasium.spaces.Discrete):
        imitax_action_space: Discrete | Box = Discrete(int(action_space.n))
    else:
        imitax_action_space = box_bounds(action_space.low, action_space.high, action_space.shape)
    longest = max((len(trajectory) for trajectory in trajectories), default=1)
    return EnvSpec(
        env_id=env_id,
        obs_dim=flat_dim(obs_space.shape),
        action_space=imitax_action_space,
        max_episode_steps=metadata.gymnasium_max_episode_steps or max(longest, 1),
    )


def _canonical(trajectory: Trajectory, spec: EnvSpec) -> Trajectory:
    """Cast validated arrays to imitax's dtypes: f32 obs/rewards, i32 or f32 actions."""
    return Trajectory(
        obs=trajectory.obs.astype(np.float32),
        actions=trajectory.actions.astype(spec.action_space.dtype),
        rewards=trajectory.rewards.astype(np.float32),
        terminated=bool(trajectory.terminated),
    )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
