"""Write-then-rename, so a killed process never leaves a half-written file under the real name.

The one home of atomic writes: the data cache and synthetic videos write one file at a time
(:func:`atomic_path`), an export writes several that appear together (:func:`write_atomically`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["atomic_path", "atomic_paths", "write_atomically"]


@contextlib.contextmanager
def atomic_paths(paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield a hidden temporary path next to each of ``paths``; they become ``paths``, in
    order, only when the block succeeds, after all of them are written.

    A temporary name starts with a dot, so readers that skip hidden files never see it, and
    is unique, so concurrent writers of the same entry cannot interleave.
    """
    temporaries: list[Path] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporaries.append(path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial"))
        yield temporaries
        for temporary, path in zip(temporaries, paths, strict=True):
            os.replace(temporary, path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path next to ``path``; it becomes ``path`` only on success."""
    with atomic_paths([path]) as (temporary,):
        yield temporary


def write_atomically(files: Mapping[Path, bytes]) -> None:
    """Write each file's bytes, flushed to disk, under a temporary name, then rename them all
    into place: a full disk or a crash leaves no truncated file, and files being replaced stay
    intact until then."""
    with atomic_paths(list(files)) as temporaries:
        for temporary, data in zip(temporaries, files.values(), strict=True):
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
