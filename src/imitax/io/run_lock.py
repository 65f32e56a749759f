"""A run folder has one writer: an advisory lock on `<run>/.lock`.

    with run_lock(run_dir):      # RunLockedError if another process is writing run_dir
        ...                      # write into run_dir

The lock is `fcntl.flock` on `<run>/.lock`; the file holds the holder's PID as one line
of text, so a refused writer can say who holds it. The kernel releases a flock when its
holder exits, however it ends (SIGKILL included): a lock file left by a killed process is
stale, the next writer's flock succeeds and it takes over, rewriting the PID. The file
stays in the folder after release (deleting it would race with a writer that has opened
it but not locked it yet); its PID is then the last writer's.

The lock is advisory: it keeps imitax commands apart, not other programs. It belongs to
the open file, so a second `run_lock` on the same folder conflicts even inside one
process. Where `fcntl` does not exist (Windows), `run_lock` is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from imitax.errors import OutputError, RunLockedError, os_reason

try:
    import fcntl
except ImportError:  # Windows: no flock, no lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "holder_pid", "run_lock"]

LOCK_FILE = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold the lock of the existing folder `run_dir` for the block; yields the lock file.

    Raises:
        RunLockedError: another process (or another `run_lock` in this one) holds it; the
            message names the folder and the holder's PID.
        OutputError: the lock file cannot be created or locked.
    """
    path = Path(run_dir) / LOCK_FILE
    if fcntl is None:
        yield path
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputError(f"cannot lock run folder {run_dir}: {os_reason(error)}; expected a writable run folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            holder = f"process {pid}" if pid is not None else "another process (its PID not written yet)"
            raise RunLockedError(f"run folder {run_dir} is being written by {holder}, which holds {path}; "
                                 "expected one writer per run folder: wait for it to finish or stop it") from None
        except OSError as error:
            raise OutputError(f"cannot lock run folder {run_dir}: {os_reason(error)}; "
                              "expected a filesystem that supports flock") from None
        _write_pid(fd)
        yield path
    finally:
        os.close(fd)  # releases the flock


def holder_pid(run_dir: str | Path) -> int | None:
    """The PID written in `run_dir`/.lock: the holder's while it runs, afterwards the last
    writer's (None without a lock file or a complete PID)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_pid(fd)
    finally:
        os.close(fd)


def _write_pid(fd: int) -> None:
    # Empty the file first and end the PID with a newline: a reader racing with this sees
    # no newline (PID unknown) or the whole PID, never a mix of two PIDs.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace")
    line, newline, _ = text.partition("\n")
    return int(line) if newline and line.isdigit() else None
