"""How a search reports as it goes: a :class:`Progress` the loop is handed, by default a tqdm
bar of the study's trials (:class:`TrialBar`)."""

from __future__ import annotations

from typing import Protocol

from tqdm import tqdm

__all__ = ["Progress", "TrialBar"]


class Progress(Protocol):
    def start(self, *, total: int, done: int) -> None:
        """The study's total and how many trials of it were done before this run."""
        ...

    def update(self, *, done: int, status: str) -> None:
        """After each trial: the trials done now, and a short status of the study."""
        ...

    def say(self, line: str) -> None:
        """A line the user should read (a failed trial, a storage outage)."""
        ...

    def close(self) -> None: ...


class TrialBar:
    """A tqdm bar of the study's trials; hidden with ``shown=False``, whose lines are still
    printed."""

    def __init__(self, *, shown: bool = True):
        self.shown = shown
        self._bar: tqdm | None = None

    def start(self, *, total: int, done: int) -> None:
        self._total = total
        self._bar = tqdm(
            total=total,
            initial=min(done, total),
            desc="trials",
            unit="trial",
            disable=not self.shown,
        )

    def update(self, *, done: int, status: str) -> None:
        if self._bar is not None:
            self._bar.n = min(done, self._total)
            self._bar.set_postfix_str(status)

    def say(self, line: str) -> None:
        tqdm.write(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
