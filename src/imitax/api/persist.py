"""`TrainResult.save(path)` and `imitax.load(run_dir)`: run folders without pickle.

A saved result is a run folder in the command line's layout, so `imitax eval` works on it and
`imitax.load` reads both:

    config.json      {"method", "env_id", "num_seeds", "options": {"seed", "backend"}, <method>: config}
    result.json      method, env id, references (random, expert), compile_s, train_s
    checkpoint/      seed 0's policy (imitax.io.policy_checkpoint; not for MCE IRL)
    reward/          seed 0's learned reward, where the method learns one (imitax.io.reward_checkpoint;
                     MCE IRL: kind "tabular-reward", as `imitax train mce-irl` writes it)
    seeds/<i>/checkpoint/, seeds/<i>/reward/    the same for seeds 1 .. num_seeds - 1
    history/         {metric: f[num_seeds, points]} (a checkpoint of kind "history")
    mdp/             MCE IRL: the tabular MDP (kind "tabular-mdp")

The folder is written beside `path` under a hidden name and renamed into place when complete.
A command-line run folder (`imitax train ...`, `imitax expert`) keeps seed 0's policy and
reward, and metrics.jsonl rows averaged over seeds: it loads as one seed with history [1, points].
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from imitax.api.methods import METHOD_NAMES, method
from imitax.api.reward import LearnedReward, TabularReward
from imitax.api.result import ReferenceScores, TabularPolicyNet, TrainResult
from imitax.errors import CheckpointError, ImitaxError, OutputError, os_reason
from imitax.io.atomic import atomic_write_json, fsync_folder, to_jsonable
from imitax.io.checkpoint import META_FILE, load_checkpoint, read_metadata, require_finite, save_checkpoint
from imitax.io.policy_checkpoint import load_policy, save_policy
from imitax.io.result_file import RESULT_FILE, RunResultFile, read_json_object, read_result_file
from imitax.io.reward_checkpoint import load_reward_params
from imitax.io.run_dir import CONFIG_FILE, read_metrics
from imitax.schema import Fields

SEEDS_FOLDER = "seeds"
_EXPECTED = ("expected a run folder written by TrainResult.save or by an `imitax train` / `imitax expert` command "
             "(config.json, checkpoint/ ...)")


# ---------------------------------------------------------------------------- saving


def save_result(result: TrainResult, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write `result` as a run folder at `path`; see the module docstring for the layout."""
    path = Path(path)
    with _staged_folder(path, overwrite) as staging:
        _save_seeds(result, staging)
        if result.history:
            save_checkpoint(staging / "history", {name: np.asarray(values) for name, values in result.history.items()},
                            {"kind": "history", "num_seeds": result.num_seeds})
        atomic_write_json(staging / CONFIG_FILE, _config_json(result))
        atomic_write_json(staging / RESULT_FILE, _result_json(result))
    return path


def _save_seeds(result: TrainResult, folder: Path) -> None:
    tabular = isinstance(result.policy_net, TabularPolicyNet)
    if tabular:
        mdp = result.env
        save_checkpoint(folder / "mdp", {"transitions": mdp.transitions, "initial_dist": mdp.initial_dist,
                                         "features": mdp.features, "true_reward": mdp.true_reward},
                        {"kind": "tabular-mdp", "horizon": mdp.horizon, "layout": mdp.layout})
    for index in range(result.num_seeds):
        seed_folder = folder if index == 0 else folder / SEEDS_FOLDER / str(index)
        if not tabular:
            save_policy(seed_folder / "checkpoint", result.policy_net, result.policy_params[index],
                        algorithm=result.method, seed=result.seed, seed_index=index)
        reward = result.reward
        if isinstance(reward, LearnedReward):
            save_checkpoint(seed_folder / "reward", reward.params[index],
                            {"kind": "reward", "algorithm": reward.algorithm, "env_spec": reward.spec.to_dict(),
                             **reward.metadata})
        elif isinstance(reward, TabularReward):
            save_checkpoint(seed_folder / "reward", {"reward_params": reward.params[index],
                                                     "learned_reward": reward.table[index]},
                            {"kind": "tabular-reward", "algorithm": "mce-irl", "reward_model": reward.model,
                             "mdp": result.env.describe(), "discount": reward.discount})


def _config_json(result: TrainResult) -> dict[str, Any]:
    spec = result.spec
    return {"method": result.method, "env_id": None if spec is None else _env_id(result), "num_seeds": result.num_seeds,
            "options": {"seed": result.seed, "backend": result.backend},
            method(result.method).config_key: to_jsonable(resolved_config(result.config, result.spec))}


def resolved_config(config: Any, spec: Any) -> Any:
    """`config` with its run-time defaults (None, "auto") resolved for `spec` where the method has
    any, as the run's config.json records it (and `imitax.load` gives it back)."""
    resolve = getattr(config, "resolved", None)
    return config if resolve is None or spec is None else resolve(spec)


def _env_id(result: TrainResult) -> str:
    """The id that makes the env again ("module:EnvId" as given), else the spec's."""
    return result.env if isinstance(result.env, str) else result.spec.env_id


def _result_json(result: TrainResult) -> dict[str, Any]:
    references = result.references
    out: dict[str, Any] = {"command": f"python train {result.method}", "method": result.method,
                           "env_id": None if result.spec is None else _env_id(result), "backend": result.backend,
                           "num_seeds": result.num_seeds, "references": references.to_dict(),
                           "compile_s": result.compile_s, "train_s": result.run_s}
    if references.random is not None and references.expert is not None:
        out["reference"] = references.to_dict()  # what `imitax eval` normalises with
    return out


@contextlib.contextmanager
def _staged_folder(path: Path, overwrite: bool) -> Iterator[Path]:
    """A hidden folder beside `path` to fill; renamed to `path` when the block succeeds."""
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        if not overwrite:
            raise OutputError(f"cannot save to {path}: it exists; expected a new folder (or overwrite=True)")
        if not (path / CONFIG_FILE).is_file():
            raise OutputError(f"refusing to overwrite {path}: it is not a run folder (no {CONFIG_FILE}); "
                              "expected a new path or an earlier run folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        staging.chmod(0o755)
    except OSError as error:
        raise OutputError(f"cannot save to {path}: {os_reason(error)}; expected a writable folder") from None
    try:
        yield staging
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        staging.rename(path)
        shutil.rmtree(old, ignore_errors=True)
        fsync_folder(path.parent)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            raise OutputError(f"cannot save to {path}: {os_reason(error)}; expected a writable folder") from None
        raise


# ---------------------------------------------------------------------------- loading


def load(run_dir: str | Path) -> TrainResult:
    """The `TrainResult` saved in `run_dir` by `TrainResult.save`, or of a command-line run
    (`imitax train <method> ...`, `imitax expert ...`; one seed, see the module docstring).

    Raises:
        CheckpointError: no such folder, a folder of something else, or a missing, corrupted or
            mismatched file in it (the message names the file).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "does not exist" if not run_dir.exists() else "is a file"
        raise CheckpointError(f"run folder {run_dir} {what}; {_EXPECTED}")
    config = read_json_object(run_dir / CONFIG_FILE, _EXPECTED)
    summary = read_result_file(run_dir)
    spec_method = method(_method_name(run_dir, config, summary))
    options = config.get("options") if isinstance(config.get("options"), dict) else {}
    seed = options.get("seed", 0)
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
    common = dict(config=_method_config(spec_method, config), history=_history(run_dir), seed=seed,
                  compile_s=_number(summary.compile_s), run_s=_number(summary.train_s), run_dir=run_dir)
    if spec_method.takes == "mdp":
        return _load_tabular(run_dir, spec_method.name, summary, common)
    policies = [load_policy(folder / "checkpoint") for folder in _seed_folders(run_dir, "checkpoint")]
    net = policies[0][0]
    if any(other != net for other, _, _ in policies[1:]):
        raise CheckpointError(f"{run_dir}: the seeds' policies have different architectures; expected one policy kind")
    reward = _learned_reward(run_dir, len(policies))
    references = _references(summary, policies[0][2])
    backend = options.get("backend", summary.backend or "jax")
    env_id = config.get("env_id") if isinstance(config.get("env_id"), str) else net.spec.env_id
    return TrainResult(method=spec_method.name, policy_net=net, policy_params=tuple(params for _, params, _ in policies),
                       reward=reward, references=references, env=env_id,
                       backend=backend if backend in ("jax", "gymnasium") else "jax", **common)


def _seed_folders(run_dir: Path, child: str) -> list[Path]:
    """run_dir, then seeds/1, seeds/2, ... as long as they hold `child`."""
    folders = [run_dir]
    while (run_dir / SEEDS_FOLDER / str(len(folders)) / child).is_dir():
        folders.append(run_dir / SEEDS_FOLDER / str(len(folders)))
    return folders


def _method_name(run_dir: Path, config: dict[str, Any], summary: RunResultFile) -> str:
    """The method of a run: config.json's (TrainResult.save), else from result.json's command
    ("train gail" -> gail, "train rl" -> ppo, "expert" -> its algo), else from the policy's metadata."""
    if isinstance(config.get("method"), str):
        return config["method"]
    command = summary.command
    if isinstance(command, str) and command.startswith("train "):
        name = command.removeprefix("train ")
        return "ppo" if name == "rl" else name
    if command == "expert" and summary.algo in ("ppo", "sac"):
        return summary.algo
    if (run_dir / "checkpoint").is_dir():
        algorithm = read_metadata(run_dir / "checkpoint").get("algorithm")
        if isinstance(algorithm, str):
            name = "ppo" if algorithm.startswith("ppo-on-") else algorithm
            if name in METHOD_NAMES:
                return name
    if not (run_dir / CONFIG_FILE).exists() and not (run_dir / "checkpoint").exists():
        raise CheckpointError(f"{run_dir} is not a run folder (no {CONFIG_FILE}, no checkpoint/); {_EXPECTED}")
    raise CheckpointError(f"{run_dir}: cannot tell which method trained it (config.json has no method, result.json "
                          f"no command); {_EXPECTED}")


def _method_config(spec_method: Any, config: dict[str, Any]) -> Any:
    """The method's config dataclass from config.json; the raw dict if it does not fit (an
    older or newer layout), None when absent."""
    from imitax.commands.common import config_from_json

    raw = config.get(spec_method.config_key)
    if raw is None:
        return None
    try:
        return config_from_json(spec_method.config_type, raw)
    except (ImitaxError, KeyError, TypeError, ValueError):
        return raw


def _history(run_dir: Path) -> dict[str, np.ndarray]:
    """{metric: f[num_seeds, points]} from history/, else the metrics.jsonl rows: f[1, rows]."""
    if (run_dir / "history").is_dir():
        state, _ = load_checkpoint(run_dir / "history")
        history = {}
        for name, values in state.items():
            values = np.asarray(values)
            if values.ndim != 2 or values.dtype.kind not in "fiub":
                raise CheckpointError(f"{run_dir / 'history'}: metric {name!r} has shape {values.shape}, dtype "
                                      f"{values.dtype}; expected numbers [num_seeds, points]")
            history[str(name)] = values
        return history
    rows = read_metrics(run_dir)
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: np.asarray([[_number(row.get(name)) for row in rows]], np.float64) for name in names}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def _references(summary: RunResultFile, policy_meta: dict[str, Any]) -> ReferenceScores:
    """From result.json (checked by its schema); an `imitax expert` run's expert reference is
    its own return (its policy's metadata)."""
    # both read checked: result.json by its schema, the policy's expert_return by load_policy
    expert = summary.reference_expert if summary.reference_expert is not None else policy_meta.get("expert_return")
    return ReferenceScores.of(summary.reference_random, expert)


def _learned_reward(run_dir: Path, num_seeds: int) -> LearnedReward | None:
    if not (run_dir / "reward").is_dir():
        return None
    folders = _seed_folders(run_dir, "reward")
    if len(folders) != num_seeds:
        raise CheckpointError(f"{run_dir}: {len(folders)} learned rewards for {num_seeds} policies; expected one per seed")
    loaded = [load_reward_params(folder / "reward") for folder in folders]
    _, spec, meta = loaded[0]
    metadata = {key: value for key, value in meta.items()
                if key not in ("format", "format_version", "kind", "algorithm", "env_spec")}
    return LearnedReward(meta["algorithm"], spec, metadata, tuple(params for params, _, _ in loaded))


def _load_tabular(run_dir: Path, name: str, summary: RunResultFile, common: dict[str, Any]) -> TrainResult:
    """MCE IRL: the learned reward tables, the MDP, and the policies optimal under the rewards."""
    from imitax.rl.tabular import value_iteration

    mdp = _load_mdp(run_dir)
    tables, params, meta = [], [], {}
    for folder in _seed_folders(run_dir, "reward"):
        meta = read_metadata(folder / "reward")
        if meta.get("kind") != "tabular-reward":
            raise CheckpointError(f"{folder / 'reward'}: checkpoint kind is {meta.get('kind')!r}; expected "
                                  "'tabular-reward' (the reward/ folder of an mce-irl run)")
        state, _ = load_checkpoint(folder / "reward")
        table = np.asarray(state.get("learned_reward"), np.float32)
        if table.shape != (mdp.num_states,):
            raise CheckpointError(f"{folder / 'reward'}: learned_reward has shape {table.shape}; expected "
                                  f"({mdp.num_states},), one reward per state of the MDP")
        require_finite(folder / "reward", table)
        tables.append(table)
        params.append(state.get("reward_params"))
    fields = Fields(meta, run_dir / "reward" / META_FILE)  # the last seed's; every seed's run shares them
    discount = fields.number("discount", default=1.0, low=0.0, high=1.0, open_ends="low")
    reward = TabularReward(np.stack(tables), tuple(params), fields.section("reward_model", default={}).data, discount)
    policies = tuple(value_iteration(mdp, table, float(discount))[0] for table in tables)
    references = _references(summary, {}) if summary.has_reference else _exact_references(mdp)
    return TrainResult(method=name, policy_net=TabularPolicyNet(mdp.num_states, mdp.num_actions, mdp.horizon),
                       policy_params=policies, reward=reward, references=references, env=mdp, backend="tabular",
                       **common)


def _exact_references(mdp: Any) -> ReferenceScores:
    from imitax.algos.mce_irl import References, expert_policy

    exact = References.of(mdp, expert_policy(mdp))
    return ReferenceScores(exact.random_return, exact.expert_return)


def _load_mdp(run_dir: Path) -> Any:
    """The MDP from mdp/ (TrainResult.save), else rebuilt from config.json (`imitax train mce-irl`)."""
    from imitax.envs.tabular import tabular_mdp

    folder = run_dir / "mdp"
    if folder.is_dir():
        state, meta = load_checkpoint(folder)
        fields = Fields(meta, folder / META_FILE)
        horizon, layout = fields.integer("horizon", low=1), fields.texts("layout", default=None)
        try:
            return tabular_mdp(state["transitions"], state["initial_dist"], horizon, state["true_reward"],
                               features=state["features"], layout=layout)
        except (ImitaxError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{folder}: not a valid tabular MDP ({error}); expected what TrainResult.save "
                                  "writes") from None
    from imitax.commands.common import load_run_config
    from imitax.commands.train_mce_irl import TrainMCEIRLArgs

    try:
        return load_run_config(TrainMCEIRLArgs, run_dir).build_mdp()
    except ImitaxError as error:
        raise CheckpointError(f"{run_dir}: cannot rebuild the MDP from {CONFIG_FILE} ({error}); {_EXPECTED}") from None
