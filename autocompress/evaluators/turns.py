"""Timing in turns: several artifacts timed alternately, a few runs each, round after round.

A latency alone says as much about the machine's load at that moment as about the model: on a
shared machine the same artifact runs 30 % slower in a busy minute. Timed in turns, every
artifact meets the same load, so their ratios (a trial's speed-up over the baseline) hold
whatever the load was. Rounds alternate their order (ABBA), so a load that rises or falls
steadily during the rounds weighs on each artifact alike.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from autocompress.timing import Timing, timed_runs

__all__ = ["ROUNDS", "Sampler", "Settled", "split_runs", "time_in_turns"]

ROUNDS = 4  # turns per artifact when a trial is timed beside the baseline
REWARM = 1  # untimed runs at the start of each later turn: the other artifacts' runs evicted
# this one's weights from the caches

# Takes a number of runs; gives each timed run's milliseconds, after what warm-up it needs.
Sampler = Callable[[int], list[float]]
Key = TypeVar("Key", bound=Hashable)


@dataclass
class Settled:
    """An artifact loaded in this process and kept: its first turn waits ``warmup`` runs for
    its runtime to settle (TorchScript's profiling runs), later turns only refill the caches."""

    run: Callable[[], object]
    warmup: int
    settled: bool = False

    def __call__(self, runs: int) -> list[float]:
        warmup = REWARM if self.settled else self.warmup
        samples = timed_runs(self.run, warmup, runs)
        self.settled = True
        return samples


def split_runs(runs: int, rounds: int) -> list[int]:
    """``runs`` shared out over at most ``rounds`` turns as evenly as they go, none empty."""
    if runs < 1 or rounds < 1:
        raise ValueError(f"need runs >= 1 and rounds >= 1, got {runs}, {rounds}")
    rounds = min(rounds, runs)
    return [runs // rounds + (turn < runs % rounds) for turn in range(rounds)]


def time_in_turns(samplers: Mapping[Key, Sampler], runs: int, rounds: int) -> dict[Key, Timing]:
    """Each artifact's timing over ``runs`` timed runs, taken in ``rounds`` turns that
    alternate with the others' (the caller keeps other work off the machine meanwhile)."""
    samples: dict[Key, list[float]] = {key: [] for key in samplers}
    order = list(samplers)
    for turn, turn_runs in enumerate(split_runs(runs, rounds)):
        for key in order if turn % 2 == 0 else reversed(order):
            samples[key] += samplers[key](turn_runs)
    return {key: Timing.from_samples(values) for key, values in samples.items()}
