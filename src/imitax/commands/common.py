"""What every command shares: options, environments, run folders, policy evaluation."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import json
import math
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import gymnasium
import jax
import numpy as np

from imitax.envs import GYMNAX_IDS, make
from imitax.envs.render import make_render_env, render_frame
from imitax.envs.gymnasium_env import GymnasiumEnv
from imitax.envs.jax_env import JaxEnv
from imitax.commands.numeric_options import check_numeric_options, check_text_options
from imitax.commands.progress import TrainingMonitor, monitor
from imitax.commands.wall_time import phase, timed_result
from imitax.errors import INFINITY_ALLOWED, ConfigError, DivergenceError, UnknownEnvError
from imitax.eval import EvalResult, evaluate, evaluate_policy, normalized_score, random_policy
from imitax.io.atomic import atomic_write_json
from imitax.io.loggers import LoggerName, check_available, close_loggers, open_loggers
from imitax.io.policy_video import record_policy_video
from imitax.io.plots import plot_learning_curve
from imitax.io.resume import ResumeCheckpoint
from imitax.io.run_dir import (CONFIG_FILE, MetricsWriter, make_run_dir, protect_resumed_run, truncate_metrics, write_config,
                                write_summary)
from imitax.io.run_lock import run_lock
from imitax.nets.policy import Policy
from imitax.rl.loop import seed_slice

Backend = Literal["jax", "gymnasium"]
ROLLOUT_VIDEO = "rollout.mp4"
Command = TypeVar("Command", bound=Callable[..., Any])
# The run-folder locks `start_run` takes, released when the innermost `holds_run_lock` command ends.
_command_locks: contextvars.ContextVar[contextlib.ExitStack | None] = contextvars.ContextVar("imitax_command_locks",
                                                                                             default=None)


@dataclasses.dataclass(frozen=True)
class RunFolderOptions:
    """Options every training command takes: seed, run folder, output, checkpoints."""

    seed: int = 0
    """random seed (runs with the same seed and config give the same numbers)"""
    runs_dir: Path = Path("runs")
    """where run folders are created"""
    name: str | None = None
    """run folder name (default: <command>-<env>-<time>)"""
    json: bool = False
    """print the result as one JSON object on the last stdout line"""
    progress: bool = True
    """show a progress bar on stderr"""
    # inf is meaningful here: no periodic saves, only the one at the end.
    checkpoint_every_s: float = dataclasses.field(default=60.0, metadata=INFINITY_ALLOWED)
    """seconds between saves of the training state to <run>/resume/ (0: after every chunk; inf: only at the end,
    which is always saved)"""
    resume: Path | None = None
    """continue the run in this folder from its last saved state (its config.json gives every option not set here)"""
    log: tuple[LoggerName, ...] = ()
    """also log metrics and config to: tensorboard (<run>/tensorboard/), wandb (online, or WANDB_MODE=offline;
    pip install 'imitax[wandb]'); metrics.csv/jsonl are always written"""

    def validate(self) -> RunFolderOptions:
        """Raise ConfigError on a value no run can use (checked before any run folder exists)."""
        check_available(self.log)
        if not self.checkpoint_every_s >= 0:  # NaN too
            raise ConfigError(f"--checkpoint-every-s must be >= 0, got {self.checkpoint_every_s}")
        if self.name is not None and (self.name in ("", ".", "..") or Path(self.name).name != self.name):
            raise ConfigError(f"--name {self.name!r} is not a folder name; expected one name without '/', "
                              f"created under --runs-dir {self.runs_dir}")
        return self


@dataclasses.dataclass(frozen=True)
class RunOptions(RunFolderOptions):
    """Options every training command on an environment takes."""

    backend: Backend = "jax"
    """jax: gymnax env, whole loop compiled; gymnasium: any Gymnasium env, host loop"""
    eval_episodes: int = 100
    """episodes for the final evaluation"""
    video: bool = False
    """keep a video of one episode of the trained policy (seed 0, deterministic) as <run>/rollout.mp4"""

    def validate(self) -> RunOptions:
        if self.eval_episodes <= 0:
            raise ConfigError(f"--eval-episodes must be > 0, got {self.eval_episodes}")
        super().validate()
        return self


def validate_all(config: Any) -> None:
    """Refuse non-finite floats, out-of-range seeds and names that are not UTF-8 anywhere in
    `config` (`check_numeric_options`, `check_text_options`) and, with `--resume`, another
    env, seed or number of seeds than the run's (`check_resume_keeps_identity`); then call
    `validate()` on `config` and on every dataclass nested in it, innermost first (a `validate`
    that needs arguments is left to its command)."""
    check_numeric_options(config)
    check_text_options(config)
    resume = getattr(getattr(config, "options", None), "resume", None)
    if resume is not None:
        check_resume_keeps_identity(Path(resume), config)
    _validate_nested(config)


def _validate_nested(config: Any) -> None:
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return
    for field in dataclasses.fields(config):
        _validate_nested(getattr(config, field.name))
    validate = getattr(config, "validate", None)
    if callable(validate) and _takes_no_arguments(validate):
        validate()


def _takes_no_arguments(function: Any) -> bool:
    try:
        inspect.signature(function).bind()
    except (TypeError, ValueError):
        return False
    return True


def make_env(env_id: str, backend: Backend) -> JaxEnv | GymnasiumEnv:
    """The environment of a command: a JAX id, or on `--backend gymnasium` any registered
    Gymnasium id, "module:EnvId" importing the module that registers a user's own env."""
    if backend == "jax" and env_id not in GYMNAX_IDS and (":" in env_id or env_id in gymnasium.registry):
        raise UnknownEnvError(f"{env_id!r} is a Gymnasium environment, not one of the JAX ids ({', '.join(GYMNAX_IDS)}); "
                              "expected --backend gymnasium to run it")
    with phase("load"):
        return make(env_id, backend=backend)


def run_name(env_id: str) -> str:
    """`env_id` as part of a folder name: "point_mass:imitax_test/PointMass-v0" -> "imitax_test-PointMass-v0"."""
    return env_id.rpartition(":")[2].replace("/", "-")


def holds_run_lock(command: Command) -> Command:
    """Decorator of a command that writes a run folder: the folder's lock, which `start_run`
    takes, is held until the command returns or raises (one writer per run folder)."""

    @functools.wraps(command)
    def locked_command(*args: Any, **kwargs: Any) -> Any:
        with contextlib.ExitStack() as locks:
            token = _command_locks.set(locks)
            try:
                return command(*args, **kwargs)
            finally:
                _command_locks.reset(token)

    return locked_command  # type: ignore[return-value]


def start_run(options: RunFolderOptions, prefix: str, env_id: str, config: Any) -> Path:
    """A new run folder holding config.json, or with `options.resume` the run folder to
    continue; locked (`imitax.io.run_lock`) before anything is written in it, until the
    `holds_run_lock` command calling this ends. Under `discard_failed_runs` (the CLI), an
    ImitaxError later in the command removes a new folder again unless it holds saved state.

    Raises:
        RunLockedError: another process is writing the `--resume` folder.
    """
    validate_all(config)
    locks = _command_locks.get()
    if locks is None:
        raise RuntimeError("start_run called outside a command decorated with @holds_run_lock")
    if getattr(options, "video", False):
        check_renderable(env_id)
    if options.resume is not None:
        run_dir = _saved_config_file(options.resume).parent
    else:
        run_dir = make_run_dir(options.runs_dir, options.name, prefix=f"{prefix}-{run_name(env_id)}")
    if options.resume is not None:
        protect_resumed_run(run_dir)  # before the lock file or config.json is written
    locks.enter_context(run_lock(run_dir))
    # `resume` is how this command was started, not the run's config: a resumed run's
    # config.json stays what an uninterrupted run's is
    saved = dataclasses.replace(config, options=dataclasses.replace(options, resume=None)) \
        if options.resume is not None and getattr(config, "options", None) is options else config
    write_config(run_dir, saved)
    return run_dir


# What makes a run the run it is: a resumed run goes on from the saved state of these, so
# another value on the command line would be recorded for parameters it did not produce.
RUN_IDENTITY = (("env_id",), ("num_seeds",), ("options", "seed"))


def check_resume_keeps_identity(run_dir: Path, config: Any) -> None:
    """ConfigError when `config` (the saved config with the command line's options applied)
    changes the env, the number of seeds or the seed of the run it resumes."""
    saved = load_run_config(type(config), run_dir)
    for path in RUN_IDENTITY:
        before, after = _attribute(saved, path), _attribute(config, path)
        if before is not None and after is not None and before != after:
            flag = "--" + path[-1].replace("_", "-") if path[-1] != "env_id" else "the env id"
            raise ConfigError(f"--resume {run_dir}: {flag} {after!r} differs from the run's {before!r}; a resumed run "
                              f"goes on from its saved state, so expected the same (leave it out)")


def _attribute(config: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        config = getattr(config, name, None)
    return config


def check_renderable(env_id: str) -> None:
    """Render one frame of `env_id`'s Gymnasium environment, so that `--video` fails before
    training rather than after it.

    Raises:
        RenderError: it cannot render here.
    """
    with phase("load"):
        env = make_render_env(env_id)
        try:
            env.reset(seed=0)
            render_frame(env, env_id)
        finally:
            env.close()


def keep_rollout_video(run_dir: Path, options: RunOptions, env_id: str, policy: Policy, params: Any) -> None:
    """With `--video`: one deterministic episode of the policy (one seed's params) as <run>/rollout.mp4."""
    if options.video:
        with phase("save"):
            record_policy_video(env_id, policy, params, run_dir / ROLLOUT_VIDEO, episodes=1, seed=options.seed)


def load_run_config(config_type: type, run_dir: Path) -> Any:
    """The `config_type` instance saved in `run_dir`/config.json (for `--resume`)."""
    config_file = _saved_config_file(run_dir)
    try:
        return _from_jsonable(config_type, json.loads(config_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"--resume {run_dir}: its {CONFIG_FILE} does not fit this command ({error}); "
                          "expected a run made by the same `imitax` command") from None


def _saved_config_file(run_dir: Path) -> Path:
    config_file = Path(run_dir) / CONFIG_FILE
    if not config_file.is_file():
        raise ConfigError(f"--resume {run_dir}: no {CONFIG_FILE} there; expected the folder of an earlier run")
    return config_file


def config_from_json(kind: type, value: Any) -> Any:
    """An instance of the config dataclass `kind` from its JSON form (what `write_config` wrote).

    Raises:
        KeyError, TypeError, ValueError: `value` does not fit `kind`.
    """
    return _from_jsonable(kind, value)


def _from_jsonable(kind: Any, value: Any, where: str = "", allow_infinity: bool = False) -> Any:
    """Rebuild a value of type `kind` (a dataclass, tuple, Path, Optional, Literal, scalar) from
    JSON, checking each leaf against its field's type: the config dataclasses are config.json's
    schema. `where` is the dotted field name the errors give.

    Raises:
        KeyError: an object has fields its dataclass does not.
        TypeError: a value of another type than its field's (a string for a number, a float for
            an integer, a non-finite number unless the field allows infinity)."""
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise TypeError(f"{where or kind.__name__} is {value!r}; expected an object of {kind.__name__}'s fields")
        hints = typing.get_type_hints(kind, include_extras=True)
        fields = {f.name: f for f in dataclasses.fields(kind) if f.init}
        unknown = set(value) - set(fields)
        if unknown:
            raise KeyError(f"{kind.__name__} has no options {sorted(unknown)}")
        return kind(**{name: _from_jsonable(hints[name], item, f"{where}.{name}" if where else name,
                                            bool(fields[name].metadata.get("infinity_allowed")))
                       for name, item in value.items()})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Annotated:
        return _from_jsonable(args[0], value, where, allow_infinity)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _from_jsonable(next(a for a in args if a is not type(None)), value, where, allow_infinity)
    if origin is typing.Literal:
        if value not in args:
            raise TypeError(f"{where} is {value!r}; expected one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"{where} is {value!r}; expected a list")
        item_kind = args[0] if args else Any
        return tuple(_from_jsonable(item_kind, item, f"{where}[{i}]", allow_infinity) for i, item in enumerate(value))
    if kind is Path:
        if not isinstance(value, str):
            raise TypeError(f"{where} is {value!r}; expected a path (a string)")
        return Path(value)
    return _checked_scalar(kind, value, where, allow_infinity)


def _checked_scalar(kind: Any, value: Any, where: str, allow_infinity: bool) -> Any:
    if kind is bool and not isinstance(value, bool):
        raise TypeError(f"{where} is {value!r}; expected true or false")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{where} is {value!r}; expected an integer")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where} is {value!r}; expected a number")
        if math.isnan(value) or (math.isinf(value) and not allow_infinity):
            raise TypeError(f"{where} is {value!r}; expected a finite number")
        return float(value)
    if kind is str and not isinstance(value, str):
        raise TypeError(f"{where} is {value!r}; expected a string")
    return value


@contextlib.contextmanager
def training(run_dir: Path, options: RunFolderOptions, description: str, total: int, per_iteration: int,
             unit: str) -> Iterator[tuple[TrainingMonitor, ResumeCheckpoint]]:
    """Metrics writer, loggers (`--log`), progress monitor and training-state checkpoint of one run.

    On `--resume`, metric rows written after the last saved state are dropped first (the
    loop replays from that state), so the metrics files get no gap and no duplicate. A
    `DivergenceError` raised inside says where the last good state is kept.
    """
    checkpoint = ResumeCheckpoint(run_dir, options.checkpoint_every_s)
    kept = truncate_metrics(run_dir, checkpoint.saved_metric_rows()) if options.resume is not None else []
    first_step = None if options.resume is None else (int(kept[-1][unit]) + 1 if kept else 0)
    config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8")) if options.log else {}
    with contextlib.ExitStack() as stack:
        loggers = open_loggers(options.log, run_dir, config, first_step)
        stack.callback(close_loggers, loggers)
        writer = stack.enter_context(MetricsWriter(run_dir))
        mon = stack.enter_context(monitor(description, total, per_iteration, unit, writer, options.progress, loggers))
        checkpoint.writer = writer
        mon.rows.extend(kept)
        try:
            with phase("train"):
                yield mon, checkpoint
        except DivergenceError as error:
            if checkpoint.exists():
                raise DivergenceError(f"{error}; the last good state is kept in {checkpoint.folder}: "
                                      f"continue with --resume {run_dir} and a lower learning rate") from None
            raise


def evaluate_seeds(env: JaxEnv | GymnasiumEnv, policy: Policy, stacked_params: Any, num_seeds: int,
                   episodes: int, seed: int) -> list[EvalResult]:
    """Deterministic evaluation of each seed's policy (params with a leading [num_seeds] axis)."""
    with phase("evaluate"):
        return [evaluate_policy(env, policy, seed_slice(stacked_params, index), jax.random.PRNGKey(seed + 10_000 + index), episodes)
                for index in range(num_seeds)]


def with_seed_axis(params: Any) -> Any:
    """One run's params with a leading [num_seeds = 1] axis, as `evaluate_seeds` takes them."""
    return jax.tree.map(lambda x: x[None], params)


def random_return(env: JaxEnv | GymnasiumEnv, episodes: int, seed: int) -> float:
    with phase("evaluate"):
        return evaluate(env, random_policy(env.spec), jax.random.PRNGKey(seed + 20_000), episodes).mean


def score_table(results: list[EvalResult], random_score: float, expert_score: float) -> dict[str, Any]:
    """Per-seed and mean returns and normalised scores."""
    returns = [r.mean for r in results]
    scores = [float(normalized_score(x, random_score, expert_score)) for x in returns]
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.mean([r.std for r in results])),
        "normalized_score": float(np.mean(scores)),
        "seed_returns": returns,
        "seed_normalized_scores": scores,
        "reference": {"random": random_score, "expert": expert_score},
    }


def finish_run(run_dir: Path, title: str, rows: list[dict[str, Any]], x: str, ys: list[str],
               result: dict[str, Any], hlines: dict[str, float] | None = None) -> dict[str, Any]:
    """Write the learning curve, summary.md and, last, result.json; return the result as
    written (with the command's `wall_time` breakdown when run from the CLI)."""
    result = {**result, "run_dir": str(run_dir)}
    present = [y for y in ys if rows and y in rows[0]]
    if rows and present:
        with phase("plot"):
            plot_learning_curve(run_dir / "curve.png", rows, x=x, ys=present, title=title, hlines=hlines)
    headline = {k: v for k, v in result.items() if not isinstance(v, (dict, list))}
    sections: dict[str, Any] = {"Result": headline}
    if "reference" in result:
        sections["Reference scores"] = result["reference"]
    if "seed_returns" in result:
        sections["Per seed"] = [
            {"seed": i, "return": round(r, 2), "normalized": round(s, 3)}
            for i, (r, s) in enumerate(zip(result["seed_returns"], result.get("seed_normalized_scores", result["seed_returns"])))
        ]
    extras = [name for name in (ROLLOUT_VIDEO,) if (run_dir / name).is_file()]
    sections["Files"] = ", ".join(["config.json", "metrics.csv", "metrics.jsonl", "checkpoint/", "curve.png", *extras,
                                   "result.json"])
    write_summary(run_dir, title, sections)
    return write_result(run_dir, result)


def write_result(run_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write result.json, the run's last file (with the command's `wall_time` breakdown when run
    from the CLI); return what was written."""
    result = timed_result({**result, "run_dir": str(run_dir)})
    atomic_write_json(run_dir / "result.json", result)
    return result


def emit(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """Print a human summary, or the result as one JSON line (last line of stdout; with the
    command's `wall_time` breakdown)."""
    if as_json:
        print(json.dumps(timed_result(result), default=float))
    else:
        for line in lines:
            print(line)
