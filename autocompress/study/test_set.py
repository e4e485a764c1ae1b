"""Counting front points on the test set: items the search never saw.

The search chooses its points by their errors on the selection items, so those errors are
optimistic for the points it chose (a factorised point lucky on the selection videos looks
better than it is). Each front point is scored again on the test set (the adapter's
``test_task``), and reported with a 95 % confidence interval over the test items.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from torch import nn

from autocompress.compression import Pipeline
from autocompress.evaluators.task import Task
from autocompress.study.context import SearchContext, compress
from autocompress.study.pareto import feasible_front
from autocompress.study.record import TrialRecord, baseline_trial, note_test_scores, test_scores

__all__ = ["fill_test_scores", "score_test_set", "test_score"]


def score_test_set(task: Task, model: nn.Module) -> dict:
    """``model``'s errors on every item of ``task``: ``{"items": n, "errors": {name: mean},
    "ci95": {name: half-width}, "item_errors": [[error per objective] per item]}``, the
    half-width of a Student-t 95 % interval of the mean over items (None for a task of one
    item, which has no spread to estimate); the items' own errors pair a compressed model with
    the uncompressed one, item by item (``pareto.paired_cell``)."""
    errors = np.asarray(task.item_errors(model, 0, task.item_count()), dtype=np.float64)
    items = len(errors)
    if items > 1:
        spread = errors.std(axis=0, ddof=1) / math.sqrt(items)
        width = [float(stats.t.ppf(0.975, items - 1) * s) for s in spread]
    else:
        width = [None] * len(task.objectives)
    return {
        "items": items,
        "errors": {name: float(errors[:, i].mean()) for i, name in enumerate(task.objectives)},
        "ci95": dict(zip(task.objectives, width, strict=True)),
        "item_errors": errors.tolist(),
    }


def fill_test_scores(study, context: SearchContext) -> None:
    """Score on the test set each feasible front point (and the baseline) that has no test
    score yet (:func:`test_score`)."""
    baseline = baseline_trial(study)
    for trial in [*([baseline] if baseline is not None else []), *feasible_front(study)]:
        test_score(study, context, trial)


def test_score(study, context: SearchContext, trial) -> dict | None:
    """``trial``'s test-set scores, counted now (its model rebuilt from its pipeline) and
    stored if it has none yet; None for a study without a test set."""
    task = context.test_task()
    if task is None:
        return None
    stored = test_scores(study).get(trial.number)
    if stored is not None:
        return stored
    pipeline = Pipeline.from_dict(TrialRecord.of(trial).pipeline)
    model, _ = compress(
        context.model, pipeline, context.calibration, context.config.accuracy_device
    )
    with context.evaluator.lock.shared():
        scores = score_test_set(task, model)
    note_test_scores(study, trial.number, scores)
    return scores
