"""One trial: sample a pipeline, compress, measure, and store everything it learned on the
trial (pipeline, metrics, time split, constraints, or the reason it failed).

A trial that finds the study's total already reached (several workers share one study) ends as
PRUNED, marked ``surplus``, without doing any work. A trial whose pipeline the study already
measured takes over that trial's measurements (``duplicate_of``) without building it again.

A trial whose pipeline fails ends PRUNED with its reason and a violated ``failed`` constraint,
not FAIL: Optuna's samplers skip FAIL trials (optuna/optuna#1015, #3472), so a region that
always fails would be sampled again and again; TPE reads a PRUNED trial with a violated
constraint as infeasible and samples less there. A pipeline that failed before is not built
again: its trial takes over the failure, as a measured pipeline's duplicate does.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from functools import partial

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from autocompress.compression import Pipeline
from autocompress.errors import first_line, typed_first_line
from autocompress.spaces.pipeline_space import suggest_pipeline
from autocompress.study.climb import build, climb, rung_of
from autocompress.study.context import SearchContext
from autocompress.study.feasibility import Feasibility
from autocompress.study.ladder import Ladder, Rung, best_rung
from autocompress.study.latency_prediction import LatencyFit, eager_ms
from autocompress.study.preflight import non_finite
from autocompress.study.record import TrialRecord, note
from autocompress.study.screening import front_screen
from autocompress.study.workers import counted_trials, worker_id

__all__ = ["TrialFailed", "run_trial"]

# Error values of a trial the task did not score (over budget, screened out): such trials are
# infeasible, so these never reach the Pareto front.
UNSCORED_ERROR = 1.0
MAX_WARNINGS = 20
_log = logging.getLogger(__name__)  # each trial's library warnings at DEBUG


FAILED = "failed"  # the constraint a failed trial violates


class TrialFailed(optuna.TrialPruned):
    """A pipeline that could not be applied or evaluated; the reason is on the trial, which
    Optuna then ends PRUNED (a subclass of its TrialPruned)."""


def _failed(trial: optuna.Trial, reason: str, **record: object) -> TrialFailed:
    """The failure of ``trial`` for ``reason``, stored on it (a failure with a stated reason
    counts towards the study's total: autocompress.study.workers.counted_trials) with the
    constraint that tells the sampler the region is infeasible."""
    note(trial, fail_reason=reason, **record)
    trial.set_constraint(FAILED, 1.0)
    return TrialFailed(reason)


def _within_limit(trial: optuna.Trial, started: float, limit_s: float | None) -> None:
    """Fail ``trial`` once its compression, begun at ``started``, has run over ``limit_s``.
    Called between a pipeline's steps and after the last: a step runs to its end (one
    factorisation or training cannot be stopped halfway without leaving torch's state unknown),
    so a trial may go over the limit by one step before it fails."""
    elapsed = time.perf_counter() - started
    if limit_s is not None and elapsed > limit_s:
        raise _failed(
            trial, f"compression took {elapsed:.3g} s, over compression_limit_s ({limit_s:g} s)"
        )


def _tried_before(trials: list[FrozenTrial], pipeline: dict) -> FrozenTrial | None:
    """A trial of the study that measured ``pipeline`` (as stored: JSON's types), or failed
    on it."""
    stored = _without_recovery(json.loads(json.dumps(pipeline)))

    def tried(trial: FrozenTrial) -> bool:
        record = TrialRecord.of(trial)
        return (trial.state == TrialState.COMPLETE or record.failed) and record.pipeline is not None

    return next(
        (t for t in trials if tried(t) and _without_recovery(TrialRecord.of(t).pipeline) == stored),
        None,
    )


def _take_over(trial: optuna.Trial, original: FrozenTrial) -> list[float]:
    """``original``'s measurements, values and constraints, as ``trial``'s own; its failure,
    if it failed."""
    record = TrialRecord.of(original)
    if record.failed:
        raise _failed(trial, record.fail_reason, duplicate_of=original.number)
    note(
        trial,
        duplicate_of=original.number,
        latency_ms=record.latency_ms,
        latency_spread_ms=record.latency_spread_ms,
        baseline_ms=record.baseline_ms,
        speedup=record.speedup,
        size_mib=record.size_mib,
        screened=record.screened,
        rungs=record.rungs,
        pipeline=record.pipeline,
        errors=record.errors,
    )
    for key, value in original.constraints.items():
        trial.set_constraint(key, value)
    return list(original.values)


def _feasibility(context: SearchContext) -> Feasibility:
    """The study's limits, against the baseline as this worker measures it."""
    config = context.config
    limits = config.max_error_increase
    return Feasibility(
        budget_ms=config.budget_ms,
        max_error_increase=limits,
        baseline_errors=context.baseline_errors() if limits else {},
    )


def _skip_if_predicted_over_budget(
    trial: optuna.Trial,
    trials: list[FrozenTrial],
    model: torch.nn.Module,
    context: SearchContext,
) -> None:
    """Time one eager forward; end the trial as PRUNED if the study's own trials predict its
    latency far over the budget (autocompress.study.latency_prediction)."""
    budget_ms = context.config.budget_ms
    with context.evaluator.lock.exclusive():
        eager = eager_ms(model, context.evaluator.example, context.config.latency.threads)
    note(trial, eager_ms=eager)
    fit = LatencyFit.of(trials)
    if TrialRecord.of(trial).baseline or fit is None or not fit.far_over(eager, budget_ms):
        return
    predicted = fit.predict_ms(eager)
    note(trial, predicted_latency_ms=predicted)
    for key, value in Feasibility(budget_ms=budget_ms).constraints(latency_ms=predicted).items():
        trial.set_constraint(key, value)
    raise optuna.TrialPruned(f"latency predicted {predicted:.0f} ms, budget {budget_ms:g} ms")


def _without_recovery(pipeline: dict) -> dict:
    """A stored pipeline as it was sampled: without the finetune step its ladder added."""
    return {"steps": [step for step in pipeline["steps"] if "finetune" not in step]}


def run_trial(trial: optuna.Trial, context: SearchContext) -> list[float]:
    """The objective: sample, compress, measure, recover up the ladder; returns the
    configured objective values of the trial's best rung."""
    config = context.config
    trials = trial.study.get_trials(deepcopy=False)
    if counted_trials(trials, before=trial.number) >= config.trials:
        note(trial, surplus=True)
        raise optuna.TrialPruned("the study already has its trials")
    note(trial, worker=worker_id())
    record = TrialRecord.of(trial)
    if record.baseline:
        pipeline = Pipeline(steps=[])
    else:
        pipeline = suggest_pipeline(trial, context.catalog, config.space)
    scored = context.evaluator.task is not None
    ladder = Ladder.of(pipeline, config.recovery) if scored and pipeline.steps else None
    if ladder is not None:
        pipeline = ladder.pipeline(0)
    note(trial, pipeline=pipeline.to_dict())
    original = _tried_before(trials, pipeline.to_dict())
    if original is not None:
        return _take_over(trial, original)
    # Library warnings (ratios that round to nothing, clipped ranks) belong to the trial.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            started = time.perf_counter()
            within_limit = partial(_within_limit, trial, started, config.compression_limit_s)
            built = build(context, pipeline, ladder, within_limit)
            model = built.model
            if pipeline.steps:  # the baseline is not compressed: a copy, under no limit
                within_limit()
            compressed_at = time.perf_counter()
            if config.budget_ms is not None:
                _skip_if_predicted_over_budget(trial, trials, model, context)
            screen = front_screen(trial.study, config.objectives) if pipeline.steps else None
            metrics = context.evaluator(model, screen)
            scored_values = metrics.errors or (metrics.screened.values if metrics.screened else {})
            if (reason := non_finite(scored_values)) is not None:
                raise _failed(trial, reason)
            # Timed in turns with the trial, under its load; the baseline trial is its own.
            baseline_ms = metrics.baseline_ms if pipeline.steps else metrics.latency_ms
            feasibility = _feasibility(context)
            best: Rung | None = None
            rungs: list[Rung] = []
            report = metrics.report
            if ladder is not None and report is not None:
                total = context.evaluator.task.item_count()
                seconds = (built.bn_seconds, metrics.seconds["accuracy"])
                first = rung_of(0, report, metrics.scored, seconds, total)
                point = {"latency": metrics.latency_ms, "size": metrics.size_mib}
                rungs, model = climb(
                    trial, context, ladder, built.compressed, (first, model), point
                )
                best = best_rung(rungs)
                pipeline = ladder.pipeline(best.steps)
                note(trial, pipeline=pipeline.to_dict())
        except optuna.TrialPruned:  # TrialFailed among them
            raise
        except Exception as error:  # any failure of a sampled pipeline is that trial's result
            raise _failed(trial, typed_first_line(error)) from error
        finally:
            messages = list(dict.fromkeys(first_line(w.message) for w in caught))
            if messages:
                note(trial, warnings=messages[:MAX_WARNINGS])
            for message in messages:  # shown by `autocompress -v`
                _log.debug("trial %d warned: %s", trial.number, message)
    seconds = {"compression": compressed_at - started, **metrics.seconds}
    if len(rungs) > 1:
        seconds["recovery"] = sum(r.seconds for r in rungs[1:])
    task_names = context.adapter.objectives  # every error the task reports, objective or not
    found = metrics.errors if best is None else best.errors
    errors = found or dict.fromkeys(task_names, UNSCORED_ERROR)
    constraints = feasibility.constraints(latency_ms=metrics.latency_ms, errors=errors)
    values = {"latency": metrics.latency_ms, "size": metrics.size_mib, **errors}
    note(
        trial,
        latency_ms=metrics.latency_ms,
        latency_spread_ms=metrics.latency_spread_ms,
        baseline_ms=baseline_ms,
        speedup=baseline_ms / metrics.latency_ms,
        size_mib=metrics.size_mib,
        errors={name: (found or {}).get(name) for name in task_names},
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
    if found is None and report is not None:
        # Stopped after its first items: their errors, not the whole set's.
        counted = (report.items, report.values) if best is None else (best.items, best.counted)
        note(trial, screened={"items": counted[0], **counted[1]})
        trial.set_constraint("screened_out", 1.0)
    for key, value in constraints.items():
        trial.set_constraint(key, value)
    return [values[name] for name in config.objectives]
