"""The search loop: one worker's share of a study's trials (autocompress.study.objective runs
each one).

Several workers may run this loop against one storage: ``config.trials`` is the study's total.
A storage that stops answering is retried for a while; Ctrl-C stops after saving.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from autocompress.errors import UserError, typed_first_line
from autocompress.models.adapter import ModelAdapter, study_defaults
from autocompress.models.registry import adapter_for
from autocompress.study.config import StudyConfig, model_settings, with_task_objectives
from autocompress.study.context import SearchContext, context_of
from autocompress.study.feasibility import Feasibility
from autocompress.study.lifecycle import open_study
from autocompress.study.objective import run_trial
from autocompress.study.pareto import feasible_front
from autocompress.study.preflight import check_budget, check_model
from autocompress.study.progress import Progress, TrialBar
from autocompress.study.record import TrialRecord
from autocompress.study.storage import DEFAULT_HEARTBEAT, STORAGE_ERRORS, Heartbeat
from autocompress.study.warm_start import queue_warm_start
from autocompress.study.workers import (
    counted_trials,
    recover_interrupted_trials,
    requeue_last_interrupted,
)

__all__ = ["SearchOutcome", "run_search"]

# How long a worker waits for a storage that stopped answering, and between two tries.
STORAGE_PATIENCE_S, STORAGE_RETRY_S = 300.0, 2.0
WAIT_FOR_OTHERS_S = 1.0  # polling for other workers' last trials
_log = logging.getLogger(__name__)  # notices at INFO


@dataclass(frozen=True)
class SearchOutcome:
    study: optuna.Study
    finished_here: int
    recovered: tuple[int, ...]
    config: StudyConfig  # as the search resolved it (its objectives filled in)


def _status(study: optuna.Study, finished: int, seconds: float) -> str:
    """Trials per minute of this run, the feasible count, and the fastest feasible point."""
    is_feasible = Feasibility.of(study)
    feasible = [t for t in study.get_trials(deepcopy=False) if is_feasible(t)]
    rate = f"{60 * finished / seconds:.1f}/min, " if seconds > 0 else ""
    if not feasible:
        return f"{rate}none feasible yet"
    fastest = min(feasible, key=lambda t: TrialRecord.of(t).latency_ms)
    front = len(feasible_front(study))
    return (
        f"{rate}{len(feasible)} feasible, front {front}, fastest #{fastest.number} "
        f"{TrialRecord.of(fastest).latency_ms:.1f} ms"
    )


def _time_split(trials: list[FrozenTrial]) -> str:
    """Where ``trials``' time went: seconds per phase, and the work screening saved."""
    records = [TrialRecord.of(t) for t in trials]
    totals: dict[str, float] = {}
    for record in records:
        for phase, seconds in record.seconds.items():
            totals[phase] = totals.get(phase, 0.0) + seconds
    screened = sum(r.screened is not None for r in records)
    predicted = sum(r.skipped for r in records)
    phases = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in totals.items())
    return (
        f"time of {len(trials)} trials: {phases or 'none measured'}; "
        f"{screened} stopped after their first items, {predicted} skipped on a latency prediction"
        f"{_ladder_cost(records)}"
    )


def _ladder_cost(records: list[TrialRecord]) -> str:
    """What the recovery ladder cost, per rung: the trials that reached it and their seconds
    (rung 0's, re-estimating batch norms, are inside their compression)."""
    reached: dict[int, list[float]] = {}
    for record in records:
        for rung in record.rungs:
            reached.setdefault(rung["steps"], []).append(rung["seconds"])
    if not reached:
        return ""
    climbed = [
        f"{steps} steps {len(seconds)} trials {sum(seconds):.0f} s"
        for steps, seconds in sorted(reached.items())
        if steps > 0
    ]
    return (
        f"; recovery ladder: batch norms re-estimated in {len(reached.get(0, []))} trials, "
        f"climbed: {', '.join(climbed) or 'none'}"
    )


def _caused_by_storage(error: BaseException | None) -> bool:
    """Whether ``error`` comes from a storage that stopped answering. Optuna may replace such
    an error by another raised while handling it, so the whole chain is read."""
    while error is not None:
        if isinstance(error, STORAGE_ERRORS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _total_reached(study: optuna.Study, total: int, grace_s: float) -> bool:
    """Whether the study has its ``total`` trials, all finished.

    While other workers still run the last trials, wait: one of them may have died, and its
    trial is then failed (its process gone from this machine, its heartbeat stale after the
    grace period, or never claimed by any worker within it) and queued again, for this worker
    to run.
    """
    while counted_trials(trials := study.get_trials(deepcopy=False)) >= total:
        if not any(t.state == TrialState.RUNNING for t in trials):
            return True
        recover_interrupted_trials(study, orphan_grace_s=grace_s)
        fail_stale_trials(study)
        time.sleep(WAIT_FOR_OTHERS_S)
    return False


def run_search(
    config: StudyConfig,
    storage_url: str | None,
    run_dir: Path,
    progress: bool | Progress = True,
    *,
    heartbeat: Heartbeat = DEFAULT_HEARTBEAT,
    storage_patience_s: float = STORAGE_PATIENCE_S,
    adapter: ModelAdapter | None = None,
) -> SearchOutcome:
    """Run trials until the study has ``config.trials`` of them; Ctrl-C stops after saving.
    First a pre-flight check (autocompress.study.preflight) refuses, in one line, a model that
    does not run on its inputs, a task that cannot score it and a budget no trial could meet.

    ``progress`` is told how the study goes (a :class:`Progress`; True: a tqdm bar, False:
    the bar hidden). A storage that stops answering (a restarting database, a dropped
    connection) is retried for ``storage_patience_s``; then the search stops with a
    :class:`UserError`. Finished trials live in the storage, and the interrupted one is
    queued again, so nothing is lost.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    adapter = adapter or adapter_for(model_settings(config, run_dir))
    config = with_task_objectives(
        config, adapter.objectives, study_defaults(adapter)
    )  # once, for the whole search
    # Bad usage ends here in one line, before trial 0 (autocompress.study.preflight).
    baseline_errors = check_model(config, adapter)
    study, created = open_study(config, storage_url, run_dir, heartbeat=heartbeat)
    recovered = tuple(recover_interrupted_trials(study))
    if recovered:
        _log.info("re-queued trials interrupted by a killed worker: %s", list(recovered))
    context = context_of(config, adapter, study)
    check_budget(context)
    if baseline_errors is not None:
        context.note_baseline_errors(baseline_errors)
    if created and config.warm_start:
        recipe = context.adapter.recipe(context.model)
        queue_warm_start(study, context.model, context.catalog, config.space, recipe)
    if isinstance(progress, bool):
        progress = TrialBar(shown=progress)
    finished = _loop(
        study,
        context,
        progress=progress,
        grace_s=heartbeat.grace_s,
        storage_patience_s=storage_patience_s,
    )
    return SearchOutcome(study, finished, recovered, config)


def _loop(
    study: optuna.Study,
    context: SearchContext,
    *,
    progress: Progress,
    grace_s: float,
    storage_patience_s: float,
) -> int:
    """Run ``context``'s trials on ``study`` until it has its total; returns how many ran here."""
    config = context.config
    progress.start(total=config.trials, done=counted_trials(study.get_trials(deepcopy=False)))

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        record = TrialRecord.of(trial)
        if record.failed:
            progress.say(f"trial {trial.number} failed: {record.fail_reason}")
        if not record.surplus:
            done_here.append(trial)
        progress.update(
            done=counted_trials(study.get_trials(deepcopy=False)),
            status=_status(study, len(done_here), time.monotonic() - started),
        )

    finished = 0
    done_here: list[FrozenTrial] = []
    started = time.monotonic()
    outage_since: float | None = None
    try:
        while True:
            try:
                if outage_since is not None:
                    recover_interrupted_trials(study, own=True)
                    requeue_last_interrupted(study)
                    progress.say("storage reachable again; going on")
                    outage_since = None
                if _total_reached(study, config.trials, grace_s):
                    break
                study.optimize(
                    lambda trial: run_trial(trial, context),
                    n_trials=1,
                    callbacks=[after_trial],
                )
                finished += 1
            except Exception as error:
                if not _caused_by_storage(error):
                    raise
                outage_since = outage_since or time.monotonic()
                if time.monotonic() - outage_since > storage_patience_s:
                    raise UserError(
                        f"the study storage has not answered for {storage_patience_s:.0f} s "
                        f"({typed_first_line(error)}); finished trials are kept in it: "
                        "run the same command again to resume"
                    ) from error
                progress.say(f"storage unreachable ({typed_first_line(error)}); retrying")
                time.sleep(STORAGE_RETRY_S)
    except KeyboardInterrupt:
        requeue_last_interrupted(study)
        raise
    finally:
        progress.close()
        if done_here:
            _log.info(_time_split(done_here))
    return finished
