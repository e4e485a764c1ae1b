"""Recovery inside the search, on a budget: the last trials of a study distil the most
promising points found before them.

Recovering every trial would multiply a search's time by ten. Instead, once a study has
``trials - recovery.trials`` trials (by default 2 % of them recover), each new trial takes the
fastest feasible point of the front that pruned or factorised something and was not recovered
yet, and runs its pipeline again with a finetune step before any quantization. It is an
ordinary trial of the same study (same parameters, plus ``recovers``: the number of the trial
it recovers), so the front, resume, workers and export see it like any other, and the study
keeps its exact total.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from autocompress.compression import FinetuneStep, Pipeline, technique_of
from autocompress.study.config import StudyConfig
from autocompress.study.pareto import feasible_front
from autocompress.study.record import TrialRecord, enqueue
from autocompress.study.workers import counted_trials

__all__ = ["queue_recovery", "with_recovery"]


def with_recovery(pipeline: Pipeline, step: FinetuneStep) -> Pipeline:
    """``pipeline`` with ``step`` before its final step (int8 cannot be trained), else last."""
    steps = list(pipeline.steps)
    at = next((i for i, s in enumerate(steps) if technique_of(s).last), len(steps))
    return Pipeline([*steps[:at], step, *steps[at:]])


def _recoverable(trial: FrozenTrial) -> bool:
    """Not a recovery itself, and with a step whose loss a finetune can win back."""
    record = TrialRecord.of(trial)
    steps = Pipeline.from_dict(record.pipeline).steps
    return record.recovers is None and any(technique_of(s).recoverable for s in steps)


def next_to_recover(study: optuna.Study) -> FrozenTrial | None:
    """The fastest feasible front point with something to recover that no trial (finished,
    running or queued) recovers yet."""
    taken = {
        record.recovers
        for record in map(TrialRecord.of, study.get_trials(deepcopy=False))
        if record.recovers is not None
    }
    candidates = [t for t in feasible_front(study) if _recoverable(t) and t.number not in taken]
    return candidates[0] if candidates else None


def queue_recovery(study: optuna.Study, config: StudyConfig) -> int | None:
    """Queue the next recovery trial when the study has reached its recovery phase and no
    other trial waits; returns the number of the trial it recovers, or None."""
    trials = study.get_trials(deepcopy=False)
    recovering = config.recovery.count(config.trials)
    if recovering == 0 or counted_trials(trials) < config.trials - recovering:
        return None
    if any(t.state == TrialState.WAITING for t in trials):
        return None
    target = next_to_recover(study)
    if target is None:
        return None
    enqueue(study, target.params, recovers=target.number)
    return target.number
