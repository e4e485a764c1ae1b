"""One trial: sample a pipeline, compress, measure, and store everything it learned on the
trial (pipeline, metrics, time split, constraints, or the reason it failed).

A trial that finds the study's total already reached (several workers share one study) ends as
PRUNED, marked ``surplus``, without doing any work. A trial whose pipeline the study already
measured takes over that trial's measurements (``duplicate_of``) without building it again.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from autocompress.compression import Pipeline
from autocompress.errors import first_line, typed_first_line
from autocompress.evaluators.task import TaskReport
from autocompress.spaces.pipeline_space import suggest_pipeline
from autocompress.study.context import SearchContext, compress
from autocompress.study.feasibility import Feasibility
from autocompress.study.ladder import Ladder, Rung, best_rung, worth_climbing
from autocompress.study.latency_prediction import LatencyFit, eager_ms
from autocompress.study.pareto import feasible_front
from autocompress.study.preflight import non_finite
from autocompress.study.record import TrialRecord, note
from autocompress.study.screening import front_screen, optimistic_errors
from autocompress.study.workers import counted_trials, worker_id

__all__ = ["TrialFailed", "run_trial"]

# Error values of a trial the task did not score (over budget, screened out): such trials are
# infeasible, so these never reach the Pareto front.
UNSCORED_ERROR = 1.0
MAX_WARNINGS = 20
_log = logging.getLogger(__name__)  # each trial's library warnings at DEBUG


class TrialFailed(Exception):
    """A pipeline that could not be applied or evaluated; the reason is on the trial."""


def _failed(trial: optuna.Trial, reason: str) -> TrialFailed:
    """The failure of ``trial`` for ``reason``, stored on it (a failure with a stated reason
    counts towards the study's total: autocompress.study.workers.counted_trials)."""
    note(trial, fail_reason=reason)
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


def _measured_before(trials: list[FrozenTrial], pipeline: dict) -> FrozenTrial | None:
    """A finished trial of the study that measured ``pipeline`` (as stored: JSON's types)."""
    stored = json.loads(json.dumps(pipeline))
    return next(
        (
            t
            for t in trials
            if t.state == TrialState.COMPLETE
            and _without_recovery(TrialRecord.of(t).pipeline) == _without_recovery(stored)
        ),
        None,
    )


def _take_over(trial: optuna.Trial, original: FrozenTrial) -> list[float]:
    """``original``'s measurements, values and constraints, as ``trial``'s own."""
    record = TrialRecord.of(original)
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


@dataclass(frozen=True)
class _Built:
    model: torch.nn.Module  # what the trial measures first (rung 0 when it has a ladder)
    compressed: torch.nn.Module | None  # before its recovery: where every rung starts
    bn_seconds: float  # rung 0's batch-norm re-estimation


def _build(
    context: SearchContext,
    pipeline: Pipeline,
    ladder: Ladder | None,
    within_limit: Callable[[], None],
) -> _Built:
    """The trial's model; with a ``ladder``, also its compressed model before recovery."""
    calibration, device = context.calibration, context.config.accuracy_device
    with context.evaluator.lock.shared():
        if ladder is None:
            model, _ = compress(context.model, pipeline, calibration, device, within_limit)
            return _Built(model, None, 0.0)
        pipeline.validate(context.model)
        before = Pipeline(list(ladder.before))
        compressed, _ = compress(context.model, before, calibration, device, within_limit)
        within_limit()
        started = time.perf_counter()
        model = ladder.finish(compressed, 0, context.model, calibration, device)
        return _Built(model, compressed, time.perf_counter() - started)


def _without_recovery(pipeline: dict) -> dict:
    """A stored pipeline as it was sampled: without the finetune step its ladder added."""
    return {"steps": [step for step in pipeline["steps"] if "finetune" not in step]}


def _rung(
    steps: int, report: TaskReport, complete: bool, seconds: tuple[float, float], total: int
) -> Rung:
    """A rung from its task report and its (recovery, counting) seconds."""
    return Rung(
        steps=steps,
        errors=dict(report.values) if complete else None,
        counted=dict(report.values),
        estimate=dict(report.values) if complete else optimistic_errors(report, total),
        items=report.items,
        seconds=round(sum(seconds), 3),
        recovery_seconds=round(seconds[0], 3),
    )


def _climb(
    trial: optuna.Trial,
    context: SearchContext,
    ladder: Ladder,
    compressed: torch.nn.Module,
    first: tuple[Rung, torch.nn.Module],
    point: dict[str, float],
) -> tuple[list[Rung], torch.nn.Module]:
    """Every rung ``trial`` climbs from ``first`` (autocompress.study.ladder), and the model
    of its best rung."""
    config, evaluator = context.config, context.evaluator
    rungs, models = [first[0]], {first[0].steps: first[1]}
    caps = config.max_error_increase
    note(trial, rungs=[first[0].to_dict()])
    for steps in config.recovery.rungs:
        study_trials = trial.study.get_trials(deepcopy=False)
        front = feasible_front(trial.study)
        worth = worth_climbing(
            rungs,
            steps,
            point,
            trials=study_trials,
            front=[dict(zip(config.objectives, t.values, strict=True)) for t in front],
            objectives=config.objectives,
            baseline_errors=context.baseline_errors(),
            caps=caps,
            recovery=config.recovery,
        )
        if not worth:
            break
        started = time.perf_counter()
        with evaluator.lock.shared():
            model = ladder.finish(
                compressed, steps, context.model, context.calibration, config.accuracy_device
            )
            recovered = time.perf_counter()
            screen = front_screen(trial.study, config.objectives)
            go_on = screen and partial(screen, point["latency"], point["size"])
            report, complete = evaluator.accuracy(model, go_on)
        seconds = (recovered - started, time.perf_counter() - recovered)
        rungs.append(_rung(steps, report, complete, seconds, evaluator.task.item_count()))
        models[steps] = model
        note(trial, rungs=[r.to_dict() for r in rungs])
    return rungs, models[best_rung(rungs).steps]


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
    original = _measured_before(trials, pipeline.to_dict())
    if original is not None:
        return _take_over(trial, original)
    # Library warnings (ratios that round to nothing, clipped ranks) belong to the trial.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            started = time.perf_counter()
            within_limit = partial(_within_limit, trial, started, config.compression_limit_s)
            built = _build(context, pipeline, ladder, within_limit)
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
            if not pipeline.steps:  # this is the baseline: its timing is the reference
                context.note_baseline_latency(metrics.latency_ms)
            baseline_ms = context.baseline_latency_ms()
            feasibility = _feasibility(context)
            best: Rung | None = None
            rungs: list[Rung] = []
            report = metrics.report
            if ladder is not None and report is not None:
                total = context.evaluator.task.item_count()
                seconds = (built.bn_seconds, metrics.seconds["accuracy"])
                first = _rung(0, report, metrics.scored, seconds, total)
                point = {"latency": metrics.latency_ms, "size": metrics.size_mib}
                rungs, model = _climb(
                    trial, context, ladder, built.compressed, (first, model), point
                )
                best = best_rung(rungs)
                pipeline = ladder.pipeline(best.steps)
                note(trial, pipeline=pipeline.to_dict())
        except (optuna.TrialPruned, TrialFailed):
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
    for key, value in feasibility.constraints(latency_ms=metrics.latency_ms, errors=errors).items():
        trial.set_constraint(key, value)
    values = {"latency": metrics.latency_ms, "size": metrics.size_mib, **errors}
    return [values[name] for name in config.objectives]
