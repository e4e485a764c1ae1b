"""Recovery-aware scoring: each trial scored as it would ship, on a ladder of distillation rungs.

Pruning and factorising damage a model that a short distillation largely repairs: scored raw,
the case study's pruning reads MAE 0.68, recovered 0.17 (benchmarks/recovery.md). A sampler
that learns from raw errors learns little about the models users deploy. So a trial whose
pipeline changed weights has its batch norms re-estimated first (rung 0: seconds), and is
scored so. Then it climbs rungs of distillation steps (``recovery.rungs``), each a fresh run of
that many steps from the compressed model (so the trial's stored pipeline rebuilds exactly the
model it scored), but only while both hold:

- an optimistic estimate of its errors after the next rung could still reach the feasible
  front and meet the error caps: its current errors shrunk by the largest gain the study has
  seen between those rungs (the 10th percentile of earlier trials' ratios; before
  ``MIN_CLIMBS_SEEN`` of them, down to the uncompressed model's errors);
- the study's rungs above 0, this one included, stay within ``recovery.share`` of its
  trials' wall time: a rung's cost is estimated from the seconds per step of the study's
  earlier climbs; before any, a step is taken to cost STEP_FORWARDS forwards of rung 0's
  batch-norm re-estimation (one forward a batch).

This is successive halving's idea, many candidates short and few long, steered by the front as
screening is (autocompress.study.screening). The sampler and the front see the trial's best
rung; every rung's errors and seconds are on its record.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from optuna.trial import FrozenTrial
from torch import nn

from autocompress.compression import Pipeline, apply, technique_of
from autocompress.compression.steps import Step
from autocompress.inputs import Inputs
from autocompress.study.config import Cap, RecoveryConfig, allowed_increase
from autocompress.study.record import TrialRecord
from autocompress.study.screening import could_reach_front

__all__ = ["Ladder", "Rung", "best_rung", "gain", "ladder_seconds", "worth_climbing"]

MIN_CLIMBS_SEEN = 3  # climbs between two rungs before their measured gain replaces the prior
GAIN_QUANTILE = 0.1  # of the measured ratios: optimistic, yet not one lucky trial's
# A distillation step: the teacher's forward, the student's forward and its backward (two).
STEP_FORWARDS = 4


@dataclass(frozen=True)
class Rung:
    """One rung's result: the whole set's errors, or (screened out after its first items)
    their errors and the optimistic estimate of the whole set's."""

    steps: int  # distillation steps; 0: batch norms re-estimated only
    errors: dict[str, float] | None  # None: screened out
    counted: dict[str, float]  # over the ``items`` counted
    estimate: dict[str, float]  # the errors when complete, else the optimistic estimate
    items: int
    seconds: float  # recovering and counting
    recovery_seconds: float  # recovering alone

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Ladder:
    """A pipeline split around its recovery: ``before`` builds the compressed float model,
    a finetune step of a rung's steps recovers it, ``after`` (int8) ends it."""

    before: tuple[Step, ...]
    after: tuple[Step, ...]
    recovery: RecoveryConfig

    @classmethod
    def of(cls, pipeline: Pipeline, recovery: RecoveryConfig) -> Ladder | None:
        """The ladder of ``pipeline``; None when it changes no weights a recovery could win
        back, or the study scores raw."""
        steps = pipeline.steps
        if not recovery.enabled or not any(technique_of(s).recoverable for s in steps):
            return None
        cut = next((i for i, s in enumerate(steps) if technique_of(s).last), len(steps))
        return cls(tuple(steps[:cut]), tuple(steps[cut:]), recovery)

    def pipeline(self, steps: int) -> Pipeline:
        """The whole pipeline at the rung of ``steps`` distillation steps."""
        return Pipeline([*self.before, self.recovery.step(steps), *self.after])

    def finish(
        self,
        compressed: nn.Module,
        steps: int,
        teacher: nn.Module,
        calibration: Inputs,
        device: str,
    ) -> nn.Module:
        """A copy of ``compressed`` (``before`` applied) recovered for ``steps`` steps and
        ended by ``after``: the model ``pipeline(steps)`` builds from ``teacher``."""
        model = copy.deepcopy(compressed)
        for step in (self.recovery.step(steps), *self.after):
            model = apply(model, step, calibration, teacher, device).model
        return model.eval()


def _climbs(trials: Sequence[FrozenTrial], lower: int, upper: int) -> list[tuple[dict, dict]]:
    """(errors at ``lower``, errors at ``upper``) of each trial that completed both rungs."""
    pairs = []
    for trial in trials:
        by_steps = {r["steps"]: r["errors"] for r in TrialRecord.of(trial).rungs}
        if by_steps.get(lower) and by_steps.get(upper):
            pairs.append((by_steps[lower], by_steps[upper]))
    return pairs


def gain(trials: Sequence[FrozenTrial], lower: int, upper: int, name: str) -> float | None:
    """How far error ``name`` falls from rung ``lower`` to rung ``upper`` at best (a ratio,
    the GAIN_QUANTILE of the study's climbs); None before MIN_CLIMBS_SEEN of them."""
    ratios = [
        after[name] / before[name]
        for before, after in _climbs(trials, lower, upper)
        if before[name] > 0
    ]
    if len(ratios) < MIN_CLIMBS_SEEN:
        return None
    return float(np.quantile(ratios, GAIN_QUANTILE))


def ladder_seconds(trials: Sequence[FrozenTrial]) -> tuple[float, float]:
    """(seconds on rungs above 0, seconds of every phase) over ``trials``."""
    records = [TrialRecord.of(t) for t in trials]
    rungs = sum(r["seconds"] for record in records for r in record.rungs if r["steps"] > 0)
    total = sum(sum(record.seconds.values()) for record in records)
    return rungs, total


def seconds_per_step(trials: Sequence[FrozenTrial], first: Rung, bn_batches: int) -> float:
    """What a distillation step costs: the median over the study's climbs, else estimated
    from ``first``'s batch-norm re-estimation (STEP_FORWARDS of its forwards)."""
    measured = [
        r["recovery_seconds"] / r["steps"]
        for t in trials
        for r in TrialRecord.of(t).rungs
        if r["steps"] > 0
    ]
    if measured:
        return float(np.median(measured))
    return STEP_FORWARDS * first.recovery_seconds / max(1, bn_batches)


def worth_climbing(
    rungs: Sequence[Rung],
    next_steps: int,
    point: Mapping[str, float],
    *,
    trials: Sequence[FrozenTrial],
    front: Sequence[dict[str, float]],
    objectives: Sequence[str],
    baseline_errors: Mapping[str, float],
    caps: Mapping[str, Cap],
    recovery: RecoveryConfig,
) -> bool:
    """Whether a trial at the last of ``rungs`` (latency and size in ``point``) climbs to
    ``next_steps``: the study's rungs stay within the recovery share of its time with this
    one, and the trial's optimistic errors after it meet the caps and could reach ``front``."""
    spent, total = ladder_seconds(trials)
    cost = next_steps * seconds_per_step(trials, rungs[0], recovery.bn_batches)
    if spent + cost > recovery.share * (total + cost):
        return False
    current = rungs[-1]
    after = {}
    for name, value in current.estimate.items():
        ratio = gain(trials, current.steps, next_steps, name)
        after[name] = min(value, baseline_errors[name]) if ratio is None else value * ratio
    over_cap = any(
        after[name] > baseline_errors[name] + allowed_increase(cap, baseline_errors[name])
        for name, cap in caps.items()
    )
    return not over_cap and could_reach_front({**point, **after}, front, objectives)


def best_rung(rungs: Sequence[Rung]) -> Rung:
    """The rung a trial reports: of the complete ones, the lowest sum of errors (fewer steps
    on a tie); the last one when none is complete."""
    complete = [r for r in rungs if r.errors is not None]
    if not complete:
        return rungs[-1]
    return min(complete, key=lambda r: (math.fsum(r.errors.values()), r.steps))
