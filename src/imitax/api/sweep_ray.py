"""Sweeps on a Ray cluster: each program of a planned sweep runs as one Ray Tune trial.

    imitax.sweep("gail", "CartPole-v1", "cartpole/expert-v0", grid=..., num_seeds=3, ray="auto")
    imitax sweep gail CartPole-v1 --demos cartpole/expert-v0 --grid ... --ray auto --ray-gpus-per-trial 1

A trial makes the env again from its id on its worker, trains its program (its points x seeds
vmapped, or one point) as a local sweep would (the same keys, so on the same hardware the
same scores), and reports each point's run folder (`TrainResult.save`) as its Tune checkpoint.
The driver reads them back with `imitax.load`, checks them against the plan and builds the
same `SweepResult`; evaluation runs on the driver. Checkpoints go to `storage`: by default a
temporary folder on this machine, removed afterwards, which serves a one-machine cluster; on
several machines give a folder that every node sees (NFS) or a cloud URI (s3://, gs://), as
Ray Tune requires. Ray moves a trial's inputs (configs, demonstrations) with its own
serialisation; nothing imitax writes or reads is pickled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import math
import shutil
import socket
import tempfile
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from imitax.errors import CheckpointError, ConfigError, ImitaxError

TCP_CHECK_S = 5.0  # how long to wait for a cluster's port before calling it unreachable


@dataclasses.dataclass(frozen=True)
class RayCluster:
    """Where a sweep's trials run and what each one gets.

    Attributes:
        address: a running cluster's address ("host:port" as `ray start --head` printed it,
            "ray://host:port" for Ray Client, "auto" for the cluster this machine belongs to),
            or "local" to start Ray on this machine for the sweep.
        cpus_per_trial, gpus_per_trial: Ray resources each trial (one program) asks for.
        storage: where trials put their checkpoints (a folder every node sees, or a cloud URI);
            None: a temporary folder here, removed when the results are read back.
    """

    address: str = "auto"
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    storage: str | None = None

    def check(self, env: Any) -> None:
        """Refuse what cannot run, before anything trains.

        Raises:
            ConfigError: Ray not installed, an empty address, resources that are not finite
                and positive (GPUs: >= 0), or an env that is not an id the workers can make."""
        if importlib.util.find_spec("ray") is None:
            raise ConfigError("a sweep on Ray needs Ray, which is not installed; expected pip install 'imitax[ray]'")
        if not isinstance(self.address, str) or not self.address.strip():
            raise ConfigError(f"Ray address {self.address!r} is empty; expected host:port, ray://host:port, auto or local")
        if not (isinstance(self.cpus_per_trial, (int, float)) and math.isfinite(self.cpus_per_trial)
                and self.cpus_per_trial > 0):
            raise ConfigError(f"CPUs per Ray trial must be a finite number > 0, got {self.cpus_per_trial!r}")
        if not (isinstance(self.gpus_per_trial, (int, float)) and math.isfinite(self.gpus_per_trial)
                and self.gpus_per_trial >= 0):
            raise ConfigError(f"GPUs per Ray trial must be a finite number >= 0, got {self.gpus_per_trial!r}")
        if not isinstance(env, str):
            raise ConfigError(f"a sweep on Ray makes the env again on each worker, so it needs an env id; got a "
                              f"{type(env).__name__} (expected a registered id such as 'CartPole-v1' or 'module:EnvId')")


@contextlib.contextmanager
def connected(cluster: RayCluster) -> Iterator[None]:
    """Ray connected to `cluster` for the block (as it is, when this process has already
    initialised Ray); a session this started is shut down after it.

    Raises:
        ConfigError: the cluster cannot be reached."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = None if cluster.address == "local" else cluster.address
    if address not in (None, "auto"):
        _check_reachable(address)
    try:
        with warnings.catch_warnings():  # Ray starts its processes with fork + exec, which JAX warns about
            warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
            ray.init(address=address, log_to_driver=False, include_dashboard=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot connect to the Ray cluster at {cluster.address!r} ({reason}); expected the address "
                          "that `ray start --head` printed, auto on a cluster's node, or local") from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """A quick TCP check of host:port, since Ray itself retries an unreachable address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} is not host:port; expected host:port, ray://host:port, auto or local")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=TCP_CHECK_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"cannot reach the Ray cluster at {address!r} ({reason}); expected the address that "
                          "`ray start --head` printed") from None


def _trial(config: dict[str, int], plan: Any, backend: str) -> None:
    """One Ray Tune trial: train program `config["program"]` of `plan` (shipped without its env,
    made again here from its id on `backend`) and report its points' run folders."""
    from ray import tune

    from imitax.api.inputs import resolve_env
    from imitax.api.sweep import train_program
    from imitax.compile_cache import enable_compilation_cache

    enable_compilation_cache()
    plan = dataclasses.replace(plan, env=resolve_env(plan.env_id, backend))
    indices, vmapped = plan.programs[config["program"]]
    points, program = train_program(plan, indices, vmapped)
    with tempfile.TemporaryDirectory(prefix="imitax-trial-") as folder:
        for index, result, diverged in points:
            if result is not None and not diverged:
                result.save(Path(folder) / f"point-{index}")
        tune.report({"program": config["program"], "diverged": [bool(bad) for _, _, bad in points],
                     "compile_s": program.compile_s, "run_s": program.run_s, "devices": program.devices},
                    checkpoint=tune.Checkpoint.from_directory(folder))


def run_on_ray(plan: Any, cluster: RayCluster) -> Iterator[tuple[list[tuple[int, Any, bool]], Any]]:
    """Train `plan`'s programs as Ray Tune trials (Ray already connected, see `connected`);
    yields what `imitax.api.sweep.train_program` returns, program by program, once all are done.

    Raises:
        ConfigError: the plan's env was not made from an id.
        ImitaxError: a trial failed (its error's last line), or what it reported does not fit the plan."""
    import jax
    from ray import tune

    if plan.env_id is None:
        raise ConfigError("a sweep on Ray makes the env again on each worker, so it needs an env id; expected a "
                          "registered id such as 'CartPole-v1' or 'module:EnvId'")
    from imitax.api.inputs import backend_of

    data = plan.data
    if data is not None:  # NumPy arrays travel to the workers without the driver's devices
        data = dataclasses.replace(data, transitions=jax.tree.map(np.asarray, data.transitions))
    shipped = dataclasses.replace(plan, env=None, data=data)  # each worker makes the env again
    trainable = tune.with_resources(tune.with_parameters(_trial, plan=shipped, backend=backend_of(plan.env)),
                                    {"cpu": cluster.cpus_per_trial, "gpu": cluster.gpus_per_trial})
    storage = cluster.storage or tempfile.mkdtemp(prefix="imitax-ray-")
    if "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())  # Tune takes absolute paths only
    try:
        tuner = tune.Tuner(trainable, param_space={"program": tune.grid_search(list(range(len(plan.programs))))},
                           run_config=tune.RunConfig(name=f"imitax-sweep-{plan.method}-{time.strftime('%Y%m%d-%H%M%S')}",
                                                     storage_path=storage, verbose=0,
                                                     failure_config=tune.FailureConfig(max_failures=0)))
        with _quiet_tune():
            trials = tuner.fit()
        reported = {}
        for trial in trials:
            if trial.error is not None:
                raise ImitaxError(f"a Ray trial of the sweep failed: {_last_line(trial.error)}")
            reported[trial.metrics.get("program")] = trial
        for number in range(len(plan.programs)):
            if number not in reported or reported[number].checkpoint is None:
                raise ImitaxError(f"Ray returned no result for program {number} of the sweep; expected one per program")
            with tempfile.TemporaryDirectory(prefix="imitax-ray-result-") as folder:
                reported[number].checkpoint.to_directory(folder)
                yield _read_back(plan, number, reported[number].metrics, Path(folder))
    finally:
        if cluster.storage is None:
            shutil.rmtree(storage, ignore_errors=True)


@contextlib.contextmanager
def _quiet_tune() -> Iterator[None]:
    """Tune's progress reporting off (its legacy reporter at verbose 0 prints nothing) and
    anything it prints still kept off stdout, which holds `--json`'s result."""
    before = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if before is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = before


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(getattr(error, "cause", None) or error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _read_back(plan: Any, number: int, metrics: dict[str, Any],
               folder: Path) -> tuple[list[tuple[int, Any, bool]], Any]:
    """Program `number`'s points and record from its trial's metrics and run folders, each
    checked against the plan."""
    from imitax.api.inputs import backend_of
    from imitax.api.persist import load, resolved_config
    from imitax.api.sweep import Program
    from imitax.io.atomic import to_jsonable

    indices, vmapped = plan.programs[number]
    diverged = metrics.get("diverged")
    timing = [metrics.get(name) for name in ("compile_s", "run_s")]
    devices = metrics.get("devices")
    if (not isinstance(diverged, list) or len(diverged) != len(indices) or not all(isinstance(b, bool) for b in diverged)
            or not all(isinstance(t, (int, float)) and math.isfinite(t) and t >= 0 for t in timing)
            or not isinstance(devices, int) or devices < 1):
        raise ImitaxError(f"Ray trial of program {number} reported {metrics!r}; expected diverged (one bool per point), "
                          "compile_s, run_s and devices")
    points = []
    for index, bad in zip(indices, diverged):
        if bad:
            points.append((index, None, True))
            continue
        loaded = load(folder / f"point-{index}")
        if (loaded.method != plan.method or loaded.num_seeds != plan.num_seeds
                or to_jsonable(loaded.config) != to_jsonable(resolved_config(plan.configs[index], loaded.spec))):
            raise CheckpointError(f"Ray trial of program {number}: point {index}'s run folder holds {loaded.method} with "
                                  f"{loaded.num_seeds} seeds and another config; expected {plan.method}, "
                                  f"{plan.num_seeds} seeds, the point's config")
        references = plan.data.references if plan.data is not None else loaded.references
        points.append((index, dataclasses.replace(loaded, config=plan.configs[index], env=plan.env,
                                                  backend=backend_of(plan.env), references=references, run_dir=None),
                       False))
    return points, Program(tuple(indices), tuple(vmapped), float(timing[0]), float(timing[1]), devices)
