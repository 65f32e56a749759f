"""What a file is, from its first bytes: formats that can run code when loaded, and HDF5.

Loaders look before they decode, so a pickle planted under a checkpoint's or a
dataset's file name is refused unread, with a message that says what it is.
"""

from __future__ import annotations

import re
from pathlib import Path

PICKLE_PROTOCOLS = (2, 3, 4, 5)  # binary pickles start with 0x80 and the protocol number
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Protocol 0/1 pickles have no header; one that can run code starts with GLOBAL ("c" module "\n" name "\n"),
# optionally after MARK "(", or with an empty dict/list being filled.
_TEXT_PICKLE = re.compile(rb"^(\(?c[A-Za-z_][\w.]*\n[A-Za-z_][\w.]*\n|\((dp|lp)\d*\n)")


def code_format(head: bytes) -> str | None:
    """"a pickle (protocol N)", "a zip archive (...)" or None, from a file's first bytes."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] in PICKLE_PROTOCOLS:
        return f"a pickle (protocol {head[1]})"
    if _TEXT_PICKLE.match(head):
        return "a pickle (protocol 0 or 1)"
    if head.startswith(ZIP_MAGICS):
        return "a zip archive (as PyTorch, NumPy .npz and Stable-Baselines3 save: zipped pickles)"
    return None


def read_head(path: str | Path, size: int = 64) -> bytes:
    """The first `size` bytes of `path` (b"" when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def is_hdf5(path: str | Path) -> bool:
    """Whether `path` carries the HDF5 signature, at byte 0 or after a user block (512, 1024, ... bytes)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            offset = 0
            while offset + len(HDF5_SIGNATURE) <= size:
                handle.seek(offset)
                if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                    return True
                offset = 512 if offset == 0 else offset * 2
    except OSError:
        return False
    return False
