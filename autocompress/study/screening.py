"""The task in rounds of a few items: each next round is scored only for a trial that could
still reach the Pareto front.

After each round (videos counted, images classified), each task objective over the whole
set is estimated optimistically from the per-item errors so far: their mean, less one standard
error (with the finite-population correction, so the estimate is exact once every item is
scored), and never below what the scored items alone already add to the whole set's mean. If a
feasible front point is at least as good on every objective as that optimistic estimate, the
trial stops there: it is recorded as screened out (its partial values kept), infeasible,
never on the front. The estimate tightens round by round, so a trial that passed after 4
videos of 16 may stop after 8 or 12.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import optuna

from autocompress.evaluators.cost import WorthFinishing
from autocompress.evaluators.task import TaskReport
from autocompress.study.config import MEASURED_OBJECTIVES
from autocompress.study.pareto import feasible_front

__all__ = ["could_reach_front", "front_screen", "optimistic_errors"]

STANDARD_ERRORS = 1.0  # how far below the counted mean the optimistic estimate goes


def _optimistic_mean(values: np.ndarray, total: int) -> float:
    counted = len(values)
    mean = float(values.mean())
    spread = float(values.std(ddof=1)) if counted > 1 else 0.0
    correction = math.sqrt((total - counted) / (total - 1)) if total > 1 else 0.0
    bound = float(values.sum()) / total  # the videos not counted yet scoring perfectly
    return max(bound, mean - STANDARD_ERRORS * spread / math.sqrt(counted) * correction)


def optimistic_errors(report: TaskReport, total: int) -> dict[str, float]:
    """Each objective's value the whole set of ``total`` items could still reach, from the
    per-item errors of ``report``."""
    if not report.items or total < report.items:
        raise ValueError(f"need 1 to {total} scored items, got {report.items}")
    return {
        name: _optimistic_mean(report.errors[:, column], total)
        for column, name in enumerate(report.values)
    }


def could_reach_front(
    estimate: dict[str, float], front: Sequence[dict[str, float]], objectives: Sequence[str]
) -> bool:
    """Whether no point of ``front`` is at least as good as ``estimate`` on every objective
    (all minimised; each a dict objective -> value)."""
    return not any(all(point[o] <= estimate[o] for o in objectives) for point in front)


def front_screen(study: optuna.Study, objectives: Sequence[str]) -> WorthFinishing | None:
    """The screen of a trial of ``study`` against its current feasible front; None when no
    objective is a task error (nothing to estimate)."""
    if not set(objectives) - set(MEASURED_OBJECTIVES):
        return None
    front = [dict(zip(objectives, t.values, strict=True)) for t in feasible_front(study)]

    def worth_finishing(latency_ms: float, size_mib: float, report: TaskReport, total: int) -> bool:
        estimate = {"latency": latency_ms, "size": size_mib, **optimistic_errors(report, total)}
        return could_reach_front(estimate, front, objectives)

    return worth_finishing
