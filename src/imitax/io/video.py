"""MP4 files from RGB frames, written with imageio-ffmpeg (it ships its own ffmpeg binary).

    check_video_path(Path("out.mp4"), "--video")      # before anything runs: suffix, folder
    with VideoWriter(Path("out.mp4"), fps=50) as video:
        for frame in frames:                            # u8[height, width, 3] each
            video.add(frame)

The file is encoded under a temporary name in the same folder and renamed over `path` only
when complete: a reader sees the old file or the new one, and a failure leaves no part file.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from imitax.errors import ConfigError, OutputError, os_reason
from imitax.io.atomic import fsync_folder

VIDEO_SUFFIX = ".mp4"
DEFAULT_FPS = 30


def check_video_path(path: Path, option: str) -> Path:
    """`path` if a video can be written there: a .mp4 name, not a folder, under a folder that
    exists (or can be created) and is writable. Checks only; writes nothing.

    Raises:
        ConfigError: another suffix.
        OutputError: a folder at `path`, a file in the way of its folder, a read-only folder.
    """
    path = Path(path)
    if path.suffix.lower() != VIDEO_SUFFIX:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ConfigError(f"{option} {path} has {found}; expected a {VIDEO_SUFFIX} file (H.264 video)")
    if path.is_dir():
        raise OutputError(f"cannot write {option} {path}: it is a folder; expected a {VIDEO_SUFFIX} file path")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write {option} {path}: {str(existing)!r} is a file, not a folder; "
                          "expected a writable folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {option} {path}: folder {str(existing)!r} is not writable; "
                          "expected a writable folder")
    return path


class VideoWriter:
    """Frames u8[height, width, 3] (all the same size) into an H.264 MP4 at `path`, atomically.

    Odd sizes are padded by ffmpeg to even ones (yuv420p needs them).
    """

    def __init__(self, path: Path, fps: float = DEFAULT_FPS):
        self.path, self.fps = Path(path), float(fps)
        self.frames_written = 0
        self._encoder: Any = None
        self._size: tuple[int, int] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=f".tmp{VIDEO_SUFFIX}", dir=self.path.parent)
        except OSError as error:
            raise OutputError(f"cannot write {self.path}: {os_reason(error)}; expected a writable folder") from None
        os.close(fd)
        self._temporary = Path(name)

    def add(self, frame: np.ndarray) -> None:
        """Append one frame, u8[height, width, 3]."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a video frame has shape {frame.shape} and dtype {frame.dtype}; expected u8[height, width, 3]")
        size = (frame.shape[1], frame.shape[0])
        if self._encoder is None:
            import imageio_ffmpeg

            self._size = size
            self._encoder = imageio_ffmpeg.write_frames(str(self._temporary), size, fps=self.fps, codec="libx264",
                                                        macro_block_size=2, ffmpeg_log_level="error")
            with warnings.catch_warnings():
                # JAX warns of any fork; subprocess execs ffmpeg straight after it, which is safe
                warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                self._encoder.send(None)  # start ffmpeg
        elif size != self._size:
            raise ValueError(f"video frame {self.frames_written} is {size[0]}x{size[1]}; expected {self._size[0]}x{self._size[1]}"
                             " like the first")
        self._encoder.send(np.ascontiguousarray(frame))
        self.frames_written += 1

    def close(self) -> Path:
        """Finish encoding and move the file into place; returns `path`."""
        if self.frames_written == 0:
            self.discard()
            raise ValueError(f"{self.path}: no frames to write")
        self._encoder.close()
        self._encoder = None
        os.chmod(self._temporary, 0o644)
        try:
            os.replace(self._temporary, self.path)
        except OSError as error:
            self.discard()
            raise OutputError(f"cannot write {self.path}: {os_reason(error)}; expected a writable folder") from None
        fsync_folder(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Stop encoding and remove the temporary file (the target is left as it was)."""
        if self._encoder is not None:
            try:
                self._encoder.close()
            except Exception:  # ffmpeg may already have failed; the file goes anyway
                pass
            self._encoder = None
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()
