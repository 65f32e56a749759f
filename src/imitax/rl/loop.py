"""Drivers for iterative learners: a compiled loop for JAX envs, a host loop otherwise.

A learner is `init_fn(key) -> carry` and `step_fn(carry) -> (carry, metrics)`, where one
step is one iteration (rollout + update). On JAX environments `step_fn` is scanned in
chunks under one `jax.jit` (vmapped over seeds); Python sees metrics between chunks
only, for progress bars and logs. The compiled chunk is built once and reused.

Between chunks the loop also checks that training has not diverged (every loss and
every floating parameter finite; `DivergenceError` otherwise) and hands the carry to an
optional `LoopCheckpoint`, which can also restore one: a resumed run replays nothing
and, on a JAX environment, ends with the same carry as an uninterrupted one, bit for bit.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from imitax.errors import CheckpointError, DivergenceError

Carry = Any
Metrics = dict[str, Any]
# on_chunk(iterations_done, metrics of the chunk: {name: [num_seeds, chunk_len]})
ChunkCallback = Callable[[int, dict[str, np.ndarray]], None]
# Metrics that may be NaN in a healthy run (no episode ended within the chunk).
MAY_BE_NAN = frozenset({"episode_return", "episode_length"})

# Whether the Gymnasium loops split their runs (stepped together) over several CPU devices. They
# do not: on the 2-core CPU, 3 SAC runs on Hopper-v5 stepped together ran at 1.24x the same runs
# one after another on one device and 0.76x split over two (padded to 4;
# benchmarks/off_policy_speed.py). Other devices (GPUs) do split them. The tests switch it on to
# cover the padded path.
SPLIT_HOST_RUNS_ON_CPU = False


def splits_host_runs() -> bool:
    """Whether a Gymnasium loop's runs, stepped together, are split over the local devices."""
    return SPLIT_HOST_RUNS_ON_CPU or jax.default_backend() != "cpu"


class LoopCheckpoint(Protocol):
    """Saves and restores a loop's progress (see `imitax.io.resume`)."""

    def restore(self, template: Carry) -> tuple[int, Carry, dict[str, np.ndarray]] | None:
        """(iterations done, carry shaped like `template`, history so far), or None to start fresh."""

    def due(self, final: bool) -> bool:
        """Asked after every chunk (`final` after the last): whether to save now."""

    def save(self, iterations: int, carry: Carry, history: dict[str, np.ndarray]) -> None:
        """Write the progress (called only when `due`)."""


@dataclasses.dataclass
class LoopResult:
    """carry: the final carry (leading [num_seeds] axis on every leaf);
    history: {metric: f[num_seeds, num_iterations]}; compile_s and run_s in seconds."""

    carry: Carry
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float


@dataclasses.dataclass(frozen=True)
class SweepPoints:
    """Hyperparameter values that differ between the vmapped runs of one compiled program (a
    sweep). values: {field: f[num_points]}; apply(state, {field: f32[]}) -> the learner state
    with one run's values set (they are held in the state, e.g. `imitax.rl.rates`).

    Runs are laid out point-major: run `point * num_seeds + s` is seed `s` of `point`, and gets
    the key seed `s` gets in a run of `num_seeds` seeds without points."""

    values: dict[str, Any]
    apply: Callable[[Any, dict[str, Any]], Any]

    @property
    def count(self) -> int:
        return len(next(iter(self.values.values())))

    def member_values(self, num_seeds: int) -> dict[str, jnp.ndarray]:
        """{field: f32[num_points * num_seeds]}: each run's values, point-major."""
        return {k: jnp.repeat(jnp.asarray(v, jnp.float32), num_seeds) for k, v in self.values.items()}

    def point_values(self, point: int) -> dict[str, float]:
        return {k: float(v[point]) for k, v in self.values.items()}

    @classmethod
    def of(cls, hyperparams: dict[str, Any] | None, apply: Callable[[Any, dict[str, Any]], Any]) -> SweepPoints | None:
        """Points from {field: values [num_points]} (None for no hyperparameters: not a sweep)."""
        if not hyperparams:
            return None
        return cls({k: np.asarray(v, np.float32).reshape(-1) for k, v in hyperparams.items()}, apply)

    def initial_carry(self, init: Callable[[jax.Array], tuple[Any, ...]], seed: int, num_seeds: int) -> tuple[Any, ...]:
        """The compiled loop's starting carry for every run, [num_points * num_seeds, ...] point-major:
        `init(key)` (a tuple whose first element is the learner state) with run `point * num_seeds
        + s` keyed as seed s of a run without points, its state given the point's values."""
        def init_member(key: jax.Array, values: dict[str, jnp.ndarray]) -> tuple[Any, ...]:
            state, *rest = init(key)
            return (self.apply(state, values), *rest)

        keys = jnp.tile(jax.random.split(jax.random.PRNGKey(seed), num_seeds), (self.count, 1))
        return jax.vmap(init_member)(keys, self.member_values(num_seeds))


def host_member(points: SweepPoints | None, member_seed: int, seed: int, num_seeds: int,
                init: Callable[[jax.Array], Any]) -> tuple[int, Any, jax.Array]:
    """A host loop numbers its runs seed, seed + 1, ...: run `member_seed`'s own seed (that of its
    seed index s in a run without points), its learner state `init(key)` with its point's values
    applied, and its loop key (both keys split from the run's own seed)."""
    point, seed_index = divmod(member_seed - seed, num_seeds)
    run_seed = seed + seed_index
    learner_key, loop_key = jax.random.split(jax.random.PRNGKey(run_seed))
    state = init(learner_key)
    if points is not None:
        state = points.apply(state, points.point_values(point))
    return run_seed, state, loop_key


def chunk_length(num_iterations: int, target_chunks: int) -> int:
    """The largest divisor of `num_iterations` not above `num_iterations / target_chunks`
    (rounded up), so every chunk has the same static length: one compile."""
    ceiling = max(1, -(-num_iterations // max(1, target_chunks)))
    return max(d for d in range(1, ceiling + 1) if num_iterations % d == 0)


def run_compiled(
    init_fn: Callable[[jax.Array], Carry],
    step_fn: Callable[[Carry], tuple[Carry, Metrics]],
    key: jax.Array,
    num_iterations: int,
    num_seeds: int = 1,
    target_chunks: int = 20,
    on_chunk: ChunkCallback | None = None,
    carry: Carry | None = None,
    checkpoint: LoopCheckpoint | None = None,
    checked_part: Callable[[Carry], Any] = lambda carry: carry,
    stop_on_divergence: bool = True,
) -> LoopResult:
    """Run `num_iterations` steps for `num_seeds` independent seeds in one program,
    resuming from `checkpoint` when it holds saved progress. `checked_part(carry)` is what
    the divergence check scans (a replay buffer need not be); without `stop_on_divergence` (a
    sweep, whose runs are independent) a run that diverges goes on as NaN beside the others."""
    length = chunk_length(num_iterations, target_chunks)

    def chunk(carry: Carry) -> tuple[Carry, Metrics]:
        return jax.lax.scan(lambda c, _: step_fn(c), carry, None, length=length)

    start = time.perf_counter()
    if carry is None:
        # Not jitted on purpose: with jax 0.10.2 on CPU, a jitted init whose outputs come from
        # closed-over constants (GAIL's expert data) made the first chunk hang about half the
        # time with num_seeds=2. Passing those arrays as the program's arguments did not cure
        # it (2026-11-28: PPO's init, no expert data, hung in test_resume under pytest-xdist,
        # its outputs never ready), though it would save ~0.7 s warm and ~3 s cold per run.
        # Eager init costs a second and avoids it.
        carry = per_run(init_fn, num_seeds)(jax.random.split(key, num_seeds))
    done, history = 0, {}
    restored = checkpoint.restore(carry) if checkpoint is not None else None
    if restored is not None:
        done, carry, history = restored
        if done % length or done > num_iterations:
            raise CheckpointError(f"the saved progress ({done} iterations) does not fit this run "
                                  f"({num_iterations} iterations in chunks of {length}); expected the same config")
    num_runs = _num_runs(carry)
    carry = shard_runs(strong_types(carry))
    compiled = jax.jit(per_run(chunk, num_runs)).lower(carry).compile()
    compile_s = time.perf_counter() - start

    start = time.perf_counter()
    chunks: list[dict[str, np.ndarray]] = [history] if history else []
    while done < num_iterations:
        carry, metrics = compiled(carry)
        metrics = jax.tree.map(lambda x: x[:num_runs], jax.device_get(metrics))
        done += length
        if stop_on_divergence:
            check_finite(done, metrics, checked_part(carry))
        chunks.append(metrics)
        if on_chunk is not None:
            on_chunk(done, metrics)
        if checkpoint is not None and checkpoint.due(final=done == num_iterations):
            checkpoint.save(done, first_runs(carry, num_runs), _concat(chunks))
    carry = jax.block_until_ready(first_runs(carry, num_runs))
    run_s = time.perf_counter() - start
    return LoopResult(carry, _concat(chunks) if chunks else {}, compile_s, run_s)


def per_run(fn: Callable[[Any], Any], num_runs: int) -> Callable[[Any], Any]:
    """`fn` of one run, applied to `num_runs` runs stacked along a leading axis: `jax.vmap(fn)`,
    but for a single run `fn` itself with the axis taken off and put back. A vmapped program of one
    run is slower for nothing: GAIL on CartPole (200k env steps, 2-core CPU) traced and lowered
    0.3-0.5 s longer, compiled ~1 s longer and ran ~5% slower."""
    if num_runs != 1:
        return jax.vmap(fn)

    def one_run(tree: Any) -> Any:
        return _add_run_axis(fn(jax.tree.map(lambda x: x[0], tree)))

    return one_run


@jax.jit
def _add_run_axis(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[None], tree)


def strong_types(tree: Any) -> Any:
    """`tree` with its weakly typed arrays (made from Python numbers: a normaliser's count, an env's
    step counter) given their dtype for good. A carry restored from a checkpoint holds no weak
    types, and a program traced with them is another program: without this, a resumed run missed
    the compilation cache and compiled anew."""
    return jax.tree.map(lambda x: jax.device_put(np.asarray(x)) if isinstance(x, jax.Array) and jax.typeof(x).weak_type
                        else x, tree)


def device_plan(num_runs: int, num_devices: int) -> tuple[int, int]:
    """(devices to use, runs once padded) for `num_runs` independent runs on `num_devices`: as few
    runs per device as the devices allow, then as few devices (and padding runs) as give that. 27
    runs on 2 devices: 2 devices, 28 runs (14 each); on 16: 14 devices, 28 runs (2 each)."""
    if num_devices < 2 or num_runs < 2:
        return 1, num_runs
    per_device = -(-num_runs // num_devices)
    used = -(-num_runs // per_device)
    return used, used * per_device


def shard_runs(carry: Carry) -> Carry:
    """`carry` ([num_runs, ...] on every leaf) split along its runs over the local devices when
    there are several (else left where it is). The runs are independent, so each device runs its
    share of seeds and sweep points with no communication. When the devices do not divide the
    runs, copies of the last run pad them (`device_plan`); `first_runs` drops the copies."""
    num_runs = _num_runs(carry)
    used, padded = device_plan(num_runs, len(jax.local_devices()))
    if used < 2:
        return carry
    if padded > num_runs:
        carry = _pad_with_last(carry, padded - num_runs)
    mesh = Mesh(np.asarray(jax.local_devices()[:used]), ("runs",))
    return jax.device_put(carry, NamedSharding(mesh, PartitionSpec("runs")))


def stack_runs(trees: list[Any]) -> Any:
    """Single runs' trees stacked along a new leading [num_runs] axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def first_runs(carry: Carry, num_runs: int) -> Carry:
    """The first `num_runs` runs of `carry` (`shard_runs` may have padded it), in one program."""
    if _num_runs(carry) == num_runs:
        return carry
    return _take_first(carry, num_runs)


def pad_runs(tree: Any, num_runs: int) -> Any:
    """`tree` ([n, ...] on every leaf) padded to `num_runs` runs with copies of its last
    (a host loop's per-step inputs, to match a carry that `shard_runs` padded)."""
    copies = num_runs - _num_runs(tree)
    return tree if copies == 0 else _pad_with_last(tree, copies)


@functools.partial(jax.jit, static_argnums=1)
def _pad_with_last(carry: Carry, copies: int) -> Carry:
    return jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], copies, axis=0)]), carry)


@functools.partial(jax.jit, static_argnums=1)
def _take_first(carry: Carry, num_runs: int) -> Carry:
    return jax.tree.map(lambda x: x[:num_runs], carry)


def _num_runs(carry: Carry) -> int:
    leaves = jax.tree.leaves(carry)
    return len(leaves[0]) if leaves else 0


def finite_runs(carry: Carry) -> np.ndarray:
    """bool[num_runs]: whether every floating leaf of each run of a carry is finite."""
    flags = [np.isfinite(leaf).reshape(len(leaf), -1).all(axis=1) for leaf in _floating_leaves(carry)]
    return np.logical_and.reduce(flags) if flags else np.ones(len(jax.tree.leaves(carry)[0]), bool)


def _floating_leaves(tree: Any) -> Iterator[np.ndarray]:
    """The floating leaves of `tree`, read to the host in one transfer (checked there: a compiled
    check is one more program per tree structure, 0.4-1 s each to compile on the 2-core CPU, 86 in
    the tests); bfloat16 and other ml_dtypes floats as float32, which NumPy's `isfinite` takes."""
    for leaf in jax.tree.leaves(jax.device_get(tree)):
        leaf = np.asarray(leaf)
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            yield leaf if leaf.dtype.kind == "f" else leaf.astype(np.float32)


def devices_used(carry: Carry) -> int:
    """How many devices hold a carry's runs (1 unless `shard_runs` split them)."""
    leaves = [leaf for leaf in jax.tree.leaves(carry) if isinstance(leaf, jax.Array)]
    return max((len(leaf.sharding.device_set) for leaf in leaves), default=1)


def check_finite(iterations: int, metrics: Metrics, carry: Carry) -> None:
    """Raise `DivergenceError` when a metric (other than those that may be NaN) or a
    floating leaf of the carry is NaN or infinite."""
    for name, values in metrics.items():
        if name not in MAY_BE_NAN and not np.isfinite(np.asarray(values, np.float64)).all():
            raise DivergenceError(_divergence_message(iterations, f"{name} became {_bad_value(values)}"))
    if not _all_finite(carry):
        raise DivergenceError(_divergence_message(iterations, "a parameter became NaN or infinite"))


def _all_finite(carry: Carry) -> bool:
    """Whether every floating leaf is finite (any shape: a host loop's single run has no run axis)."""
    return all(np.isfinite(leaf).all() for leaf in _floating_leaves(carry))


def _bad_value(values: Any) -> str:
    values = np.asarray(values, np.float64)
    return "NaN" if np.isnan(values).any() else "infinite"


def _divergence_message(iterations: int, what: str) -> str:
    return (f"training diverged within the {iterations} iterations done so far: {what}; the likely cause is a "
            "learning rate too high for this task (or a reward or observation scale far from 1); "
            "expected finite losses: lower the learning rate")


def run_host(
    init_fn: Callable[[int], Carry],
    step_fn: Callable[[Carry], tuple[Carry, Metrics]],
    seed: int,
    num_iterations: int,
    num_seeds: int = 1,
    target_chunks: int = 20,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    saved_part: Callable[[Carry], Any] = lambda carry: carry,
    with_saved_part: Callable[[Carry, Any], Carry] = lambda carry, saved: saved,
    checked_part: Callable[[Carry], Any] | None = None,
    stop_on_divergence: bool = True,
) -> LoopResult:
    """The same contract for host-stepped environments; seeds run one after another.

    `init_fn` takes an int seed; the first `step_fn` call compiles, counted in compile_s.
    A checkpoint stores `saved_part(carry)` of every seed (the learner state, not the
    live environment) and `with_saved_part(fresh_carry, saved)` puts it back: a resumed
    run starts new episodes where it left off. The divergence check scans
    `checked_part(carry)` (default: the saved part).
    """
    checked_part = checked_part or saved_part
    report_every = max(1, num_iterations // max(1, target_chunks))
    carries = [init_fn(seed + index) for index in range(num_seeds)]
    history = {}  # {metric: f[num_seeds, num_iterations]}, NaN where not run yet
    position = 0  # seed_index * num_iterations + iterations done in that seed
    restored = checkpoint.restore([saved_part(c) for c in carries]) if checkpoint is not None else None
    if restored is not None:
        position, saved, history = restored
        carries = [with_saved_part(c, part) for c, part in zip(carries, saved)]
        history = {k: np.array(v, np.float64) for k, v in history.items()}  # writable copies
    compile_s = run_s = 0.0
    first = True
    for seed_index in range(position // num_iterations, num_seeds):
        carry = carries[seed_index]
        for iteration in range(max(0, position - seed_index * num_iterations), num_iterations):
            start = time.perf_counter()
            carry, metrics = step_fn(carry)
            metrics = jax.device_get(metrics)
            elapsed = time.perf_counter() - start
            compile_s, run_s = (compile_s + elapsed, run_s) if first else (compile_s, run_s + elapsed)
            first = False
            for name, value in metrics.items():
                history.setdefault(name, np.full((num_seeds, num_iterations), np.nan))[seed_index, iteration] = value
            done = iteration + 1
            if done % report_every == 0 or done == num_iterations:
                if stop_on_divergence:
                    check_finite(done, metrics, checked_part(carry))
                carries[seed_index] = carry
                since = done - (done % report_every or report_every)
                if on_chunk is not None and seed_index == num_seeds - 1:
                    on_chunk(done, {k: v[seed_index:seed_index + 1, since:done] for k, v in history.items()})
                position = seed_index * num_iterations + done
                if checkpoint is not None and checkpoint.due(final=position == num_seeds * num_iterations):
                    checkpoint.save(position, [saved_part(c) for c in carries], history)
        carries[seed_index] = carry
    carry = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *carries) if num_seeds > 1 else \
        jax.tree.map(lambda x: np.asarray(x)[None], carries[0])
    return LoopResult(carry, history, compile_s, run_s)


def run_host_lockstep(
    init_fn: Callable[[], Carry],
    step_fn: Callable[[Carry], tuple[Carry, Metrics]],
    num_runs: int,
    num_iterations: int,
    saved_part: Callable[[Carry], list[Any]],
    with_saved_part: Callable[[Carry, list[Any], int], Carry],
    checked_part: Callable[[Carry], Any],
    result_part: Callable[[Carry], Carry],
    target_chunks: int = 20,
    on_chunk: ChunkCallback | None = None,
    checkpoint: LoopCheckpoint | None = None,
    stop_on_divergence: bool = True,
) -> LoopResult:
    """`run_host`'s contract with the runs stepped together: `init_fn()` makes every run's
    carry at once and each `step_fn` call advances all `num_runs` runs by one iteration
    (metrics {name: [num_runs]}), so their updates can be one vmapped call rather than one
    call per run.

    A checkpoint stores `saved_part(carry)`, a list with one entry per run as `run_host`
    stores them, and `with_saved_part(fresh_carry, saved, iterations)` puts it back (and may
    refuse one that does not hold `iterations` done by every run). `result_part(carry)` is
    the result's carry, a leading [num_runs] axis on every leaf. The first call compiles,
    counted in compile_s.
    """
    report_every = max(1, num_iterations // max(1, target_chunks))
    carry = init_fn()
    history: dict[str, np.ndarray] = {}  # {metric: f[num_runs, num_iterations]}, NaN where not run yet
    done = 0
    restored = checkpoint.restore(saved_part(carry)) if checkpoint is not None else None
    if restored is not None:
        done, saved, history = restored
        carry = with_saved_part(carry, saved, done)
        history = {k: np.array(v, np.float64) for k, v in history.items()}  # writable copies
    compile_s = run_s = 0.0
    first = done
    for iteration in range(done, num_iterations):
        start = time.perf_counter()
        carry, metrics = step_fn(carry)
        metrics = jax.device_get(metrics)
        elapsed = time.perf_counter() - start
        compile_s, run_s = (compile_s + elapsed, run_s) if iteration == first else (compile_s, run_s + elapsed)
        for name, values in metrics.items():
            history.setdefault(name, np.full((num_runs, num_iterations), np.nan))[:, iteration] = values
        done = iteration + 1
        if done % report_every == 0 or done == num_iterations:
            if stop_on_divergence:
                check_finite(done, metrics, checked_part(carry))
            if on_chunk is not None:
                since = done - (done % report_every or report_every)
                on_chunk(done, {k: v[:, since:done] for k, v in history.items()})
            if checkpoint is not None and checkpoint.due(final=done == num_iterations):
                checkpoint.save(done, saved_part(carry), history)
    return LoopResult(result_part(carry), history, compile_s, run_s)


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([np.asarray(c[k]) for c in chunks], axis=1) for k in chunks[0]}


@jax.jit
def seed_slice(tree: Any, index: int | jax.Array) -> Any:
    """One seed's leaves from a carry with a leading [num_seeds] axis (one compiled program for
    every seed; sliced eagerly, each leaf shape was a program of its own)."""
    return jax.tree.map(lambda x: x[index], tree)
