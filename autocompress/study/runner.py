"""The search loop: one worker's share of a study's trials.

Each trial samples a pipeline, compresses, measures; everything it learned is stored on the
trial (pipeline, metrics, time split, or the reason it failed). Several workers may run this
loop against one storage: ``config.trials`` is the study's total, and a trial that finds the
total already reached ends as PRUNED (marked ``surplus``) without doing any work.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.storages import fail_stale_trials
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

from autocompress.compression import Pipeline
from autocompress.errors import UserError
from autocompress.models.adapter import ModelAdapter
from autocompress.models.registry import adapter_for
from autocompress.spaces.pipeline_space import suggest_pipeline
from autocompress.study.config import StudyConfig, model_settings, with_task_objectives
from autocompress.study.context import SearchContext, build_context, compress
from autocompress.study.latency_prediction import LatencyFit, eager_ms
from autocompress.study.lifecycle import (
    STORAGE_ERRORS,
    Feasibility,
    Heartbeat,
    counted_trials,
    open_study,
    recover_interrupted_trials,
    requeue_last_interrupted,
    worker_id,
)
from autocompress.study.pareto import feasible_front
from autocompress.study.record import TrialRecord, note
from autocompress.study.recovery import queue_recovery, with_recovery
from autocompress.study.screening import front_screen
from autocompress.study.warm_start import queue_warm_start

__all__ = ["SearchOutcome", "TrialFailed", "run_search", "run_trial"]

# Error values of a trial the task did not score (over budget, screened out): such trials are
# infeasible, so these never reach the Pareto front.
UNSCORED_ERROR = 1.0
MAX_WARNINGS = 20
# How long a worker waits for a storage that stopped answering, and between two tries.
STORAGE_PATIENCE_S, STORAGE_RETRY_S = 300.0, 2.0
WAIT_FOR_OTHERS_S = 1.0  # polling for other workers' last trials
_log = logging.getLogger(__name__)  # notices at INFO, each trial's library warnings at DEBUG


class TrialFailed(Exception):
    """A pipeline that could not be applied or evaluated; the reason is on the trial."""


@dataclass(frozen=True)
class SearchOutcome:
    study: optuna.Study
    finished_here: int
    recovered: tuple[int, ...]


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _skip_if_predicted_over_budget(
    trial: optuna.Trial, trials: list[FrozenTrial], model: torch.nn.Module, context: SearchContext
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
    trial.set_constraint("latency_over_budget_ms", predicted - budget_ms)
    raise optuna.TrialPruned(f"latency predicted {predicted:.0f} ms, budget {budget_ms:g} ms")


def run_trial(trial: optuna.Trial, context: SearchContext) -> list[float]:
    """The objective: sample, compress, measure; returns the configured objective values."""
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
    if record.recovers is not None:
        pipeline = with_recovery(pipeline, config.recovery.step())
    note(trial, pipeline=pipeline.to_dict())
    # Library warnings (ratios that round to nothing, clipped ranks) belong to the trial.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            started = time.perf_counter()
            with context.evaluator.lock.shared():
                model, _ = compress(
                    context.model, pipeline, context.calibration, context.config.accuracy_device
                )
            compressed = time.perf_counter()
            if config.budget_ms is not None:
                _skip_if_predicted_over_budget(trial, trials, model, context)
            screen = front_screen(trial.study, config.objectives) if pipeline.steps else None
            metrics = context.evaluator(model, screen)
            if not pipeline.steps:  # this is the baseline: its timing is the reference
                context.note_baseline_latency(metrics.latency_ms)
            baseline_ms = context.baseline_latency_ms()
            baseline_mae = context.baseline_mae() if config.max_mae_increase is not None else None
        except optuna.TrialPruned:
            raise
        except Exception as error:  # any failure of a sampled pipeline is that trial's result
            note(trial, fail_reason=_one_line(error))
            raise TrialFailed(_one_line(error)) from error
        finally:
            messages = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
            if messages:
                note(trial, warnings=messages[:MAX_WARNINGS])
            for message in messages:  # shown by `autocompress -v`
                _log.debug("trial %d warned: %s", trial.number, message)
    seconds = {"compression": compressed - started, **metrics.seconds}
    errors = metrics.errors or dict.fromkeys(_task_names(context), UNSCORED_ERROR)
    note(
        trial,
        latency_ms=metrics.latency_ms,
        latency_spread_ms=metrics.latency_spread_ms,
        baseline_ms=baseline_ms,
        speedup=baseline_ms / metrics.latency_ms,
        size_mib=metrics.size_mib,
        errors={name: (metrics.errors or {}).get(name) for name in _task_names(context)},
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
    if metrics.screened is not None:
        # Stopped after its first items: their errors, not the whole set's.
        screened = metrics.screened
        note(trial, screened={"items": screened.items, **screened.values})
        trial.set_constraint("screened_out", 1.0)
    if config.budget_ms is not None:
        trial.set_constraint("latency_over_budget_ms", metrics.latency_ms - config.budget_ms)
    if baseline_mae is not None:
        mae = errors["mae"]
        trial.set_constraint("mae_over_limit", mae - (baseline_mae + config.max_mae_increase))
    values = {"latency": metrics.latency_ms, "size": metrics.size_mib, **errors}
    return [values[name] for name in config.objectives]


def _task_names(context: SearchContext) -> tuple[str, ...]:
    """The errors a trial records (None when not scored): every one the model's task reports,
    objectives or not."""
    return context.adapter.objectives


def _progress(study: optuna.Study, finished: int, seconds: float) -> str:
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
    progress: bool = True,
    heartbeat: Heartbeat = Heartbeat(),
    storage_patience_s: float = STORAGE_PATIENCE_S,
    adapter: ModelAdapter | None = None,
) -> SearchOutcome:
    """Run trials until the study has ``config.trials`` of them; Ctrl-C stops after saving.

    A storage that stops answering (a restarting database, a dropped connection) is retried
    for ``storage_patience_s``; then the search stops with a :class:`UserError`. Finished
    trials live in the storage, and the interrupted one is queued again, so nothing is lost.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    adapter = adapter or adapter_for(model_settings(config, run_dir))
    config = with_task_objectives(config, adapter.objectives)
    study, created = open_study(config, storage_url, run_dir, heartbeat)
    recovered = tuple(recover_interrupted_trials(study))
    if recovered:
        _log.info("re-queued trials interrupted by a killed worker: %s", list(recovered))
    context = build_context(config, run_dir, study, adapter)
    if created and config.warm_start:
        recipe = context.adapter.recipe(context.model)
        queue_warm_start(study, context.model, context.catalog, config.space, recipe)
    done_before = counted_trials(study.get_trials(deepcopy=False))
    bar = tqdm(
        total=config.trials,
        initial=min(done_before, config.trials),
        desc="trials",
        unit="trial",
        disable=not progress,
    )

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        record = TrialRecord.of(trial)
        if trial.state == TrialState.FAIL and record.fail_reason is not None:
            bar.write(f"trial {trial.number} failed: {record.fail_reason}")
        bar.n = min(counted_trials(study.get_trials(deepcopy=False)), config.trials)
        if not record.surplus:
            done_here.append(trial)
        bar.set_postfix_str(_progress(study, len(done_here), time.monotonic() - started))

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
                    bar.write("storage reachable again; going on")
                    outage_since = None
                if _total_reached(study, config.trials, heartbeat.grace_s):
                    break
                queue_recovery(study, config)
                study.optimize(
                    lambda trial: run_trial(trial, context),
                    n_trials=1,
                    catch=(TrialFailed,),
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
                        f"({_one_line(error)}); finished trials are kept in it: "
                        "run the same command again to resume"
                    ) from error
                bar.write(f"storage unreachable ({_one_line(error)}); retrying")
                time.sleep(STORAGE_RETRY_S)
    except KeyboardInterrupt:
        requeue_last_interrupted(study)
        raise
    finally:
        bar.close()
        if done_here:
            _log.info(_time_split(done_here))
    return SearchOutcome(study, finished, recovered)
