"""Disk cache of decoded, resized videos, so hundreds of search trials decode each video once.

An entry is keyed by the SHA-256 of the video file, the frame size and a format version, so an
edited or replaced video is decoded again and stale entries are never read. Entries are uint8
``.npy`` files written atomically; the whole directory is safe to delete at any time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autocompress.cache import CACHE_ENV, cache_root
from autocompress.files import atomic_path

__all__ = ["CACHE_ENV", "VideoCache", "default_cache_dir"]

_FORMAT = 1  # bump when decoding or resizing changes what an entry holds
_logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The shared cache root (see :func:`autocompress.cache.cache_root`)."""
    return cache_root()


class VideoCache:
    """Decoded videos under ``root/videos``; file digests are memoised per process.

    The memo is keyed by path, size and modification time, so a search that evaluates the same
    files hundreds of times hashes each once, and a file changed in between is hashed again.
    """

    def __init__(self, root: Path | None = None):
        self.root = (root or default_cache_dir()) / "videos"
        self._digests: dict[tuple[str, int, int], str] = {}
        self._write_failed = False

    def _digest(self, path: Path) -> str:
        stat = path.stat()
        memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo_key not in self._digests:
            with open(path, "rb") as file:
                self._digests[memo_key] = hashlib.file_digest(file, "sha256").hexdigest()
        return self._digests[memo_key]

    def entry(self, path: Path, size: int) -> Path:
        """Where the frames of ``path`` at ``size`` x ``size`` are (or will be) stored."""
        return self.root / f"{self._digest(path)}-{size}px-v{_FORMAT}.npy"

    def load(self, path: Path, size: int, decode: Callable[[Path, int], np.ndarray]) -> np.ndarray:
        """The cached frames, else ``decode(path, size)``, stored for next time."""
        entry = self.entry(path, size)
        try:
            return np.load(entry, allow_pickle=False)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError):  # damaged by hand: decode again and replace it
            entry.unlink(missing_ok=True)
        frames = decode(path, size)
        try:
            with atomic_path(entry) as temporary, open(temporary, "wb") as file:
                np.save(file, frames)
        except OSError as error:
            if not self._write_failed:
                _logger.warning("video cache %s not writable (%s); decoding anew", self.root, error)
                self._write_failed = True
        return frames
