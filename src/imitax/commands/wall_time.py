"""Where a command's wall time goes: import, load, train, evaluate, save, plot, and compiling.

    with command_clock(started) as clock:     # cli.main, once per command
        with phase("load"):                    # anywhere below it; a no-op outside a command
            ...
        clock.to_dict()                        # {"import_s": ..., "load_s": ..., "compile_s": ..., "total_s": ...}

Phases are wall time between the calls that open and close them (a phase opened inside
another counts as the outer one, so nothing is counted twice); time outside every phase
(parsing options, checks, writing the config and metrics) is `other_s`. Compiling happens
inside phases (a training loop's first chunk, an evaluation's first episode batch):
`compile_s` is the wall time covered by JAX's compile events over the whole command (tracing,
lowering, XLA compile, reading the persistent cache), already counted in the phases that
compiled. The events nest (a cache read inside a backend compile, the trace of a jitted
function called while tracing another), so their intervals are joined, not summed. The `imitax` program counts from its process's start (`import_s` is then the
interpreter's start-up and every import up to the command's own modules); `cli.main(argv)`
called from Python, from the call.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

PHASES = ("import", "load", "train", "evaluate", "save", "plot")

# JAX's duration events (jax.monitoring) that are compile work, including cache reads.
_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_retrieval_time_sec")


class CommandClock:
    """Accumulated wall time per phase and compile time of one command."""

    def __init__(self, started: float):
        self.started = started
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self._compiling: list[tuple[float, float]] = []  # disjoint (start, end) perf_counter intervals

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds

    def add_compile(self, end: float, seconds: float) -> None:
        """One compile event that ended at `end` and took `seconds`; an event nested in (or
        overlapping) earlier ones adds only the time they did not cover."""
        start = end - seconds
        kept = [(s, e) for s, e in self._compiling if e < start or s > end]
        merged = [(s, e) for s, e in self._compiling if not (e < start or s > end)]
        start = min([start] + [s for s, _ in merged])
        end = max([end] + [e for _, e in merged])
        self._compiling = kept + [(start, end)]

    @property
    def compile_s(self) -> float:
        return sum(end - start for start, end in self._compiling)

    def to_dict(self) -> dict[str, float]:
        total = time.perf_counter() - self.started
        out = {f"{name}_s": round(seconds, 3) for name, seconds in self.seconds.items()}
        out["other_s"] = round(max(total - sum(self.seconds.values()), 0.0), 3)
        out["compile_s"] = round(self.compile_s, 3)
        out["total_s"] = round(total, 3)
        return out


_clock: CommandClock | None = None
_open_phase: str | None = None
_listening = False


def _on_duration(event: str, seconds: float, **_: object) -> None:
    if _clock is not None and event in _COMPILE_EVENTS:
        _clock.add_compile(time.perf_counter(), seconds)


@contextlib.contextmanager
def command_clock(started: float) -> Iterator[CommandClock]:
    """Time the command run inside the block; `started` is a `time.perf_counter()` value."""
    global _clock, _listening
    if not _listening:  # jax.monitoring has no public way to unregister; one routing listener
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        _listening = True
    previous, _clock = _clock, CommandClock(started)
    try:
        yield _clock
    finally:
        _clock = previous


def process_started() -> float | None:
    """The `time.perf_counter()` value at this process's start (Linux: /proc/self/stat's start
    time, 10 ms resolution), or None where it cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.perf_counter() - max(age, 0.0)


def current_clock() -> CommandClock | None:
    """The running command's clock (None outside `command_clock`, e.g. from the Python API)."""
    return _clock


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the block's wall time as `name` (one of PHASES) in the running command's clock."""
    global _open_phase
    if name not in PHASES:
        raise ValueError(f"unknown phase {name!r}; expected one of {PHASES}")
    if _clock is None or _open_phase is not None:  # a phase inside another counts as the outer one
        yield
        return
    start, _open_phase = time.perf_counter(), name
    try:
        yield
    finally:
        _open_phase = None
        _clock.add(name, time.perf_counter() - start)


def timed_result(result: dict) -> dict:
    """`result` with the running command's `wall_time` breakdown (unchanged outside a command,
    or when it has one already: result.json and `--json` then report the same figures)."""
    return result if _clock is None or "wall_time" in result else {**result, "wall_time": _clock.to_dict()}
