"""The cost of one compressed model: latency and size of its deployable artifact, task error.

Latency and size are measured on the artifact a device would run (the study's format, loaded
back from its serialized bytes and prepared as its runtime prepares it: for TorchScript on a
CPU, frozen and optimised for inference), not on the Python model it came from. A model over
the latency budget is not scored by the task: its trial is infeasible whatever its error, and
the task is the most expensive part of a trial. Neither is a model of a study that optimises
latency and size only (random weights, say, whose errors mean nothing). With
``screen_items``, the task's items are scored in rounds of that many, the next round only if
the caller's ``worth_finishing`` says the trial could still matter
(autocompress.study.screening). With a ``baseline`` model, each artifact is timed in turns with
the baseline's (autocompress.evaluators.turns), so its speed-up holds under any load.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
import torch

from autocompress.backends import ArtifactFormat
from autocompress.backends.command_latency import CommandTimer
from autocompress.evaluators.exclusive import MachineLock
from autocompress.evaluators.size import MIB
from autocompress.evaluators.task import Task, TaskReport
from autocompress.evaluators.turns import ROUNDS, Sampler, Settled, time_in_turns
from autocompress.inputs import Inputs
from autocompress.timing import Timing, TimingProtocol, torch_threads

__all__ = ["CostEvaluator", "Metrics", "WorthFinishing"]

# (latency ms, size MiB, the report of the items scored so far, how many the task has) -> go on?
WorthFinishing = Callable[[float, float, TaskReport, int], bool]


@dataclass(frozen=True)
class Metrics:
    latency_ms: float
    latency_spread_ms: float
    size_mib: float
    errors: dict[str, float] | None  # None: not scored (over the budget, or no task wanted)
    seconds: dict[str, float]  # wall time of each phase: artifact, latency, accuracy
    screened: TaskReport | None = None  # the items scored before stopping early
    report: TaskReport | None = None  # the task's, complete or screened; None: not scored
    baseline_ms: float | None = None  # the baseline timed in turns with it (None: no baseline)

    @property
    def scored(self) -> bool:
        return self.errors is not None


@dataclass(frozen=True)
class CostEvaluator:
    """Measures compressed models the same way for every trial of a study."""

    example: Inputs  # one batch as the device would see it (positional arguments)
    protocol: TimingProtocol
    lock: MachineLock
    artifact_format: ArtifactFormat
    command_timer: CommandTimer | None = None  # None: time the artifact here
    budget_ms: float | None = None
    task: Task | None = None  # None: latency and size only
    screen_items: int | None = None  # scored per round of screening; None: all at once
    baseline: torch.nn.Module | None = None  # timed in turns with every model; None: alone

    def artifact(self, model: torch.nn.Module) -> bytes:
        """The deployable artifact's bytes (their length is the model size)."""
        return self.artifact_format.serialize(model, self.example)

    def sampler(self, data: bytes) -> Sampler:
        """Times the artifact ``data`` as deployed: loaded back and prepared as its runtime
        does, and kept loaded, or run by the study's command each turn; never with fewer
        warm-ups than the format needs to settle."""
        warmup = max(self.protocol.warmup, self.artifact_format.settle_runs)
        if self.command_timer is not None:
            protocol = dataclasses.replace(self.protocol, warmup=warmup)
            timer, suffix, example = self.command_timer, self.artifact_format.suffix, self.example
            return lambda runs: timer.samples(
                data, suffix, dataclasses.replace(protocol, runs=runs), example
            )
        with self.lock.shared():
            runner = self.artifact_format.load(data)
        return Settled(lambda: runner(*self.example), warmup)

    @cached_property
    def baseline_sampler(self) -> Sampler:
        """The baseline's artifact, built and loaded once, then kept for every model."""
        if self.baseline is None:
            raise ValueError("this evaluator has no baseline")
        with self.lock.shared():
            data = self.artifact(self.baseline)
        return self.sampler(data)

    def in_turns(
        self, samplers: Mapping[Hashable, Sampler], runs: int | None = None, rounds: int = ROUNDS
    ) -> dict[Hashable, Timing]:
        """Each sampler's timing, in turns (autocompress.evaluators.turns), ``runs`` timed runs
        each (default: the protocol's), while no other work of this machine's workers runs."""
        with self.lock.exclusive(), torch_threads(self.protocol.threads):
            return time_in_turns(samplers, runs or self.protocol.runs, rounds)

    def latency(self, data: bytes) -> tuple[Timing, Timing | None]:
        """The artifact's timing and the baseline's, timed in turns with it (None without a
        baseline)."""
        samplers = {"artifact": self.sampler(data)}
        if self.baseline is not None:
            samplers["baseline"] = self.baseline_sampler
        timings = self.in_turns(samplers)
        return timings["artifact"], timings.get("baseline")

    def accuracy(
        self,
        model: torch.nn.Module,
        worth_finishing: Callable[[TaskReport, int], bool] | None = None,
    ) -> tuple[TaskReport, bool]:
        """The task's report and whether it covers every item: with ``worth_finishing``,
        items are scored in rounds of ``screen_items``, each round only if it says the items
        scored so far leave the trial worth finishing."""
        if self.task is None:
            raise ValueError("this evaluator has no task to score")
        total = self.task.item_count()
        round_items = total
        if worth_finishing is not None and self.screen_items is not None:
            round_items = self.screen_items
        errors = self.task.item_errors(model, 0, min(round_items, total))
        while len(errors) < total:
            if not worth_finishing(TaskReport.of(self.task, errors), total):
                return TaskReport.of(self.task, errors), False
            stop = min(len(errors) + round_items, total)
            errors = np.concatenate([errors, self.task.item_errors(model, len(errors), stop)])
        return TaskReport.of(self.task, errors), True

    def __call__(
        self, model: torch.nn.Module, worth_finishing: WorthFinishing | None = None
    ) -> Metrics:
        started = time.perf_counter()
        with self.lock.shared():
            data = self.artifact(model)
        built = time.perf_counter()
        # Raises for an artifact that cannot run: no size for it.
        timing, baseline_timing = self.latency(data)
        timed = time.perf_counter()
        size_mib = len(data) / MIB
        report, complete, screened = None, False, None
        within_budget = self.budget_ms is None or timing.median_ms <= self.budget_ms
        if self.task is not None and within_budget:
            go_on = worth_finishing and partial(worth_finishing, timing.median_ms, size_mib)
            # The eager model computes the artifact's function (tests check this) without
            # TorchScript re-specialising for every new batch shape of the task.
            with self.lock.shared():
                report, complete = self.accuracy(model, go_on)
            screened = None if complete else report
        return Metrics(
            latency_ms=timing.median_ms,
            latency_spread_ms=timing.spread_ms,
            size_mib=size_mib,
            errors=report.values if complete else None,
            seconds={
                "artifact": built - started,
                "latency": timed - built,
                "accuracy": time.perf_counter() - timed,
            },
            screened=screened,
            report=report,
            baseline_ms=None if baseline_timing is None else baseline_timing.median_ms,
        )
