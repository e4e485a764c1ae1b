"""Write-then-rename, so a killed process never leaves a half-written file under the real name."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path next to ``path``; it becomes ``path`` only on success.

    The temporary name starts with a dot, so readers that skip hidden files never see it, and
    is unique, so concurrent writers of the same entry cannot interleave.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
