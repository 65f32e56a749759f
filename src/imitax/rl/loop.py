"""Drivers for iterative learners: a compiled loop for JAX envs, a host loop otherwise.

A learner is `init_fn(key) -> carry` and `step_fn(carry) -> (carry, metrics)`, where one
step is one iteration (rollout + update). On JAX environments `step_fn` is scanned in
chunks under one `jax.jit` (vmapped over seeds); Python sees metrics between chunks
only, for progress bars and logs. The compiled chunk is built once and reused.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

Carry = Any
Metrics = dict[str, Any]
# on_chunk(iterations_done, metrics of the chunk: {name: [num_seeds, chunk_len]})
ChunkCallback = Callable[[int, dict[str, np.ndarray]], None]


@dataclasses.dataclass
class LoopResult:
    """carry: the final carry (leading [num_seeds] axis on every leaf);
    history: {metric: f[num_seeds, num_iterations]}; compile_s and run_s in seconds."""

    carry: Carry
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float


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
) -> LoopResult:
    """Run `num_iterations` steps for `num_seeds` independent seeds in one program."""
    length = chunk_length(num_iterations, target_chunks)

    def chunk(carry: Carry) -> tuple[Carry, Metrics]:
        return jax.lax.scan(lambda c, _: step_fn(c), carry, None, length=length)

    start = time.perf_counter()
    if carry is None:
        # Not jitted on purpose: with jax 0.10.2 on CPU, a jitted init whose outputs come from
        # closed-over constants (GAIL's expert data) made the first chunk hang about half the
        # time with num_seeds=2. Eager init costs a second and avoids it.
        carry = jax.vmap(init_fn)(jax.random.split(key, num_seeds))
    compiled = jax.jit(jax.vmap(chunk)).lower(carry).compile()
    compile_s = time.perf_counter() - start

    start = time.perf_counter()
    chunks: list[dict[str, np.ndarray]] = []
    for index in range(num_iterations // length):
        carry, metrics = compiled(carry)
        metrics = jax.device_get(metrics)
        chunks.append(metrics)
        if on_chunk is not None:
            on_chunk((index + 1) * length, metrics)
    jax.block_until_ready(carry)
    run_s = time.perf_counter() - start
    return LoopResult(carry, _concat(chunks), compile_s, run_s)


def run_host(
    init_fn: Callable[[int], Carry],
    step_fn: Callable[[Carry], tuple[Carry, Metrics]],
    seed: int,
    num_iterations: int,
    num_seeds: int = 1,
    target_chunks: int = 20,
    on_chunk: ChunkCallback | None = None,
) -> LoopResult:
    """The same contract for host-stepped environments; seeds run one after another.

    `init_fn` takes an int seed; the first `step_fn` call compiles, counted in compile_s.
    """
    report_every = max(1, num_iterations // max(1, target_chunks))
    carries, histories = [], []
    compile_s = run_s = 0.0
    for seed_index in range(num_seeds):
        carry = init_fn(seed + seed_index)
        rows: list[Metrics] = []
        for iteration in range(num_iterations):
            start = time.perf_counter()
            carry, metrics = step_fn(carry)
            rows.append(jax.device_get(metrics))
            elapsed = time.perf_counter() - start
            if iteration == 0 and seed_index == 0:
                compile_s += elapsed
            else:
                run_s += elapsed
            done = iteration + 1
            if on_chunk is not None and seed_index == num_seeds - 1 and (done % report_every == 0 or done == num_iterations):
                recent = rows[-report_every:]
                on_chunk(done, {k: np.asarray([[r[k] for r in recent]]) for k in recent[0]})
        carries.append(carry)
        histories.append({k: np.asarray([r[k] for r in rows]) for k in rows[0]})
    carry = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *carries) if num_seeds > 1 else \
        jax.tree.map(lambda x: np.asarray(x)[None], carries[0])
    history = {k: np.stack([h[k] for h in histories]) for k in histories[0]}
    return LoopResult(carry, history, compile_s, run_s)


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([np.asarray(c[k]) for c in chunks], axis=1) for k in chunks[0]}


def seed_slice(tree: Any, index: int) -> Any:
    """One seed's leaves from a carry with a leading [num_seeds] axis."""
    return jax.tree.map(lambda x: x[index], tree)
