"""Accuracy first on a few videos: the rest are counted only for a trial that could still
reach the Pareto front.

After the first videos, a trial's MAE and OBO over the whole set are estimated optimistically:
the mean over the videos counted, less one standard error (with the finite-population
correction, so the estimate is exact once every video is counted), and never below what the
counted videos alone already add to the whole set's mean. If a feasible front point is at
least as good on every objective as that optimistic estimate, the trial stops there: it is
recorded as screened out (its partial counts kept), infeasible, never on the front.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import optuna

from autocompress.evaluators.accuracy import VideoCount, video_errors
from autocompress.evaluators.cost import WorthFinishing
from autocompress.search.pareto import feasible_front

__all__ = ["could_reach_front", "front_screen", "optimistic_errors"]

STANDARD_ERRORS = 1.0  # how far below the counted mean the optimistic estimate goes


def _optimistic_mean(values: np.ndarray, total: int) -> float:
    counted = len(values)
    mean = float(values.mean())
    spread = float(values.std(ddof=1)) if counted > 1 else 0.0
    correction = math.sqrt((total - counted) / (total - 1)) if total > 1 else 0.0
    bound = float(values.sum()) / total  # the videos not counted yet scoring perfectly
    return max(bound, mean - STANDARD_ERRORS * spread / math.sqrt(counted) * correction)


def optimistic_errors(counts: Sequence[VideoCount], total: int) -> tuple[float, float]:
    """(MAE, OBO) the whole set of ``total`` videos could still reach, from ``counts``."""
    if not counts or total < len(counts):
        raise ValueError(f"need 1 to {total} counted videos, got {len(counts)}")
    relative, off_by_more = video_errors([v.true for v in counts], [v.pred for v in counts])
    return _optimistic_mean(relative, total), _optimistic_mean(off_by_more, total)


def could_reach_front(
    estimate: dict[str, float], front: Sequence[dict[str, float]], objectives: Sequence[str]
) -> bool:
    """Whether no point of ``front`` is at least as good as ``estimate`` on every objective
    (all minimised; each a dict objective -> value)."""
    return not any(all(point[o] <= estimate[o] for o in objectives) for point in front)


def front_screen(study: optuna.Study, objectives: Sequence[str]) -> WorthFinishing | None:
    """The screen of a trial of ``study`` against its current feasible front; None when no
    objective is a counting error (nothing to estimate)."""
    if not {"mae", "obo"} & set(objectives):
        return None
    front = [dict(zip(objectives, t.values, strict=True)) for t in feasible_front(study)]

    def worth_finishing(
        latency_ms: float, size_mib: float, counts: tuple[VideoCount, ...], total: int
    ) -> bool:
        mae, obo = optimistic_errors(counts, total)
        estimate = {"latency": latency_ms, "size": size_mib, "mae": mae, "obo": obo}
        return could_reach_front(estimate, front, objectives)

    return worth_finishing
