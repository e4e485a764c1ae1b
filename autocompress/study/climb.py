"""A trial on the recovery ladder (autocompress.study.ladder has its rules): its model built
up to its recovery, rung 0 finished from there, and every rung it climbs after its first
scoring, each recovered afresh from the same compressed model and counted on the study's task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import optuna
import torch

from autocompress.compression import Pipeline
from autocompress.evaluators.task import TaskReport
from autocompress.study.context import SearchContext, compress
from autocompress.study.ladder import Ladder, Rung, best_rung, worth_climbing
from autocompress.study.pareto import feasible_front
from autocompress.study.record import note
from autocompress.study.screening import front_screen, optimistic_errors

__all__ = ["Built", "build", "climb", "rung_of"]


@dataclass(frozen=True)
class Built:
    model: torch.nn.Module  # what the trial measures first (rung 0 when it has a ladder)
    compressed: torch.nn.Module | None  # before its recovery: where every rung starts
    bn_seconds: float  # rung 0's batch-norm re-estimation


def build(
    context: SearchContext,
    pipeline: Pipeline,
    ladder: Ladder | None,
    within_limit: Callable[[], None],
) -> Built:
    """The trial's model; with a ``ladder``, also its compressed model before recovery."""
    calibration, device = context.calibration, context.config.accuracy_device
    with context.evaluator.lock.shared():
        if ladder is None:
            model, _ = compress(context.model, pipeline, calibration, device, within_limit)
            return Built(model, None, 0.0)
        pipeline.validate(context.model)
        before = Pipeline(list(ladder.before))
        compressed, _ = compress(context.model, before, calibration, device, within_limit)
        within_limit()
        started = time.perf_counter()
        model = ladder.finish(compressed, 0, context.model, calibration, device)
        return Built(model, compressed, time.perf_counter() - started)


def rung_of(
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


def climb(
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
        rungs.append(rung_of(steps, report, complete, seconds, evaluator.task.item_count()))
        models[steps] = model
        note(trial, rungs=[r.to_dict() for r in rungs])
    return rungs, models[best_rung(rungs).steps]
