"""Hidden staging folders that name the process writing them, so a later run can clear the
ones a killed process left behind.

A checkpoint or dataset is written into a staging folder beside its target and renamed into
place when complete. A process killed mid-write (SIGKILL, a power cut) leaves its staging
folder; `remove_stale` removes such folders whose writer is no longer running, and leaves
those of live processes (another command writing next door) alone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_PID = re.compile(r"pid(\d+)\.")


def make_staging_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder `parent`/<prefix>pid<this process>.<random>.tmp (mode 0755)."""
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix}pid{os.getpid()}.", suffix=".tmp", dir=parent))
    staging.chmod(0o755)
    return staging


def remove_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove the staging folders with `prefix` in `parent` whose writing process has exited;
    return them. Folders without a process id (older imitax versions) are left alone."""
    removed = []
    try:
        candidates = [path for path in parent.iterdir() if path.name.startswith(prefix) and path.is_dir()]
    except OSError:
        return removed
    for path in candidates:
        match = _PID.match(path.name[len(prefix):])
        if match and not _running(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
