"""Wall-clock latency with the case study's protocol: warm-up runs, then timed runs, median."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

__all__ = ["Timing", "TimingProtocol", "measure", "timed_runs", "torch_threads"]


@dataclass(frozen=True)
class TimingProtocol:
    warmup: int = 10
    runs: int = 32
    threads: int | None = None  # None keeps torch's current setting

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.runs < 1:
            raise ValueError(f"need warmup >= 0 and runs >= 1, got {self.warmup}, {self.runs}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclass(frozen=True)
class Timing:
    """Milliseconds over the timed runs; the spread is the interquartile range."""

    median_ms: float
    q25_ms: float
    q75_ms: float
    min_ms: float
    runs: int

    @property
    def spread_ms(self) -> float:
        return self.q75_ms - self.q25_ms

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> Timing:
        if len(samples_ms) == 1:
            only = samples_ms[0]
            return cls(only, only, only, only, 1)
        q25, _, q75 = statistics.quantiles(samples_ms, n=4, method="inclusive")
        return cls(statistics.median(samples_ms), q25, q75, min(samples_ms), len(samples_ms))


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (to mimic a target device), then restore."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@torch.no_grad()
def timed_runs(run: Callable[[], object], warmup: int, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls of ``run()``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def measure(run: Callable[[], object], protocol: TimingProtocol = TimingProtocol()) -> Timing:
    """Time ``run()`` per the protocol. The caller keeps other work off the machine meanwhile."""
    with torch_threads(protocol.threads):
        return Timing.from_samples(timed_runs(run, protocol.warmup, protocol.runs))
