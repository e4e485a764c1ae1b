"""Skipping trials predicted far over the latency budget.

Building and timing a deployable artifact is most of a trial's cost on a large model. In a
study with a budget, every trial also times one eager forward of its compressed model (a
warm-up, then one timed run), and a log-log line is fitted through the study's own trials
that have both that time and a measured latency. A trial whose prediction lies far over the
budget (by the larger of :data:`FAR_OVER` and three residual spreads) is not built, timed or
scored: it ends PRUNED, marked with its prediction, infeasible, never on the front.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from optuna.trial import FrozenTrial, TrialState

from autocompress.inputs import Inputs
from autocompress.study.record import TrialRecord
from autocompress.timing import torch_threads

__all__ = ["LatencyFit", "eager_ms"]

MIN_POINTS = 5  # measured trials needed before any prediction is trusted
FAR_OVER = 1.5  # at least this many times the budget to skip


@torch.no_grad()
def eager_ms(model: torch.nn.Module, example: Inputs, threads: int | None) -> float:
    """Milliseconds of one eager forward of ``model`` on ``example``, after a warm-up."""
    with torch_threads(threads):
        model(*example)
        started = time.perf_counter()
        model(*example)
        return (time.perf_counter() - started) * 1e3


@dataclass(frozen=True)
class LatencyFit:
    """log(latency) = intercept + slope * log(eager ms), with the residuals' spread."""

    intercept: float
    slope: float
    spread: float  # standard deviation of the log residuals

    @classmethod
    def of(cls, trials: Sequence[FrozenTrial]) -> LatencyFit | None:
        """The fit through ``trials`` measured with an eager time; None with too few."""
        records = [TrialRecord.of(t) for t in trials if t.state == TrialState.COMPLETE]
        points = [(r.eager_ms, r.latency_ms) for r in records if r.eager_ms is not None]
        if len(points) < MIN_POINTS:
            return None
        eager, measured = np.log(np.array(points)).T
        slope, intercept = np.polyfit(eager, measured, 1)
        residuals = measured - (intercept + slope * eager)
        return cls(float(intercept), float(slope), float(residuals.std(ddof=2)))

    def predict_ms(self, eager: float) -> float:
        return math.exp(self.intercept + self.slope * math.log(eager))

    def far_over(self, eager: float, budget_ms: float) -> bool:
        """Whether ``eager``'s predicted latency is surely over ``budget_ms``."""
        margin = max(math.log(FAR_OVER), 3 * self.spread)
        return math.log(self.predict_ms(eager) / budget_ms) > margin
