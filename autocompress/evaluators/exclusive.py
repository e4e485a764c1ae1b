"""A machine-wide reader/writer lock: timing runs alone, everything else may run together.

Search workers on one machine hold the lock *shared* while they compress or count, and
*exclusive* while they measure latency, so no timing ever overlaps other work of the search
(on a 2-core machine, one busy neighbour doubles a measured latency).

``flock`` alone lets readers starve a writer: with two workers, one of them is nearly always
busy, so a timing could wait for ever. Every acquisition therefore passes a gate (a second
lock file) first, and a waiting timing holds the gate until it gets the lock, so new work
queues behind it. Holds do not nest.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from autocompress.cache import cache_root

__all__ = ["MachineLock", "default_lock_path"]


def default_lock_path() -> Path:
    return cache_root() / "measure.lock"


class MachineLock:
    def __init__(self, path: Path | None = None):
        self.path = path or default_lock_path()
        self.gate = self.path.with_name(self.path.name + ".gate")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _held(self, mode: int) -> Iterator[None]:
        with open(self.gate, "a+b") as gate, open(self.path, "a+b") as handle:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                fcntl.flock(handle, mode)
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def shared(self) -> contextlib.AbstractContextManager[None]:
        """For work that may run beside other work, but never beside a timing."""
        return self._held(fcntl.LOCK_SH)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """For a timing: waits until no other worker is busy, and keeps them waiting."""
        return self._held(fcntl.LOCK_EX)
