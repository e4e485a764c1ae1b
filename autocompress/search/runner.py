"""The search loop: one worker's share of a study's trials.

Each trial samples a pipeline, compresses, measures; everything it learned is stored on the
trial (pipeline, metrics, time split, or the reason it failed). Several workers may run this
loop against one storage: ``config.trials`` is the study's total, and a trial that finds the
total already reached ends as PRUNED (marked ``surplus``) without doing any work.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

from autocompress.compression import Pipeline
from autocompress.search.config import StudyConfig
from autocompress.search.context import SearchContext, build_context, compress
from autocompress.search.study import (
    FAIL_REASON,
    WORKER,
    counted_trials,
    open_study,
    recover_interrupted_trials,
    requeue,
    worker_id,
)
from autocompress.spaces.pipeline_space import suggest_pipeline

__all__ = ["SearchOutcome", "TrialFailed", "run_search", "run_trial"]

# Error values of a trial whose accuracy was not scored (over budget): what counting nothing
# scores (MAE 1, OBO 1). Such trials are infeasible, so these never reach the Pareto front.
UNSCORED_ERROR = 1.0
MAX_WARNINGS = 20


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


def run_trial(trial: optuna.Trial, context: SearchContext) -> list[float]:
    """The objective: sample, compress, measure; returns the configured objective values."""
    config = context.config
    trials = trial.study.get_trials(deepcopy=False)
    if counted_trials(trials, before=trial.number) >= config.trials:
        trial.set_user_attr("surplus", True)
        raise optuna.TrialPruned("the study already has its trials")
    trial.set_user_attr(WORKER, worker_id())
    if trial.user_attrs.get("baseline"):
        pipeline = Pipeline(steps=[])
    else:
        pipeline = suggest_pipeline(trial, context.catalog, config.space)
    trial.set_user_attr("pipeline", pipeline.to_dict())
    # Library warnings (ratios that round to nothing, clipped ranks) belong to the trial.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            started = time.perf_counter()
            with context.evaluator.lock.shared():
                model, _ = compress(context.model, pipeline, context.calibration)
            compressed = time.perf_counter()
            metrics = context.evaluator(model)
            baseline_mae = context.baseline_mae() if config.max_mae_increase is not None else None
        except Exception as error:  # any failure of a sampled pipeline is that trial's result
            trial.set_user_attr(FAIL_REASON, _one_line(error))
            raise TrialFailed(_one_line(error)) from error
        finally:
            messages = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
            if messages:
                trial.set_user_attr("warnings", messages[:MAX_WARNINGS])
    seconds = {"compression": compressed - started, **metrics.seconds}
    mae = metrics.mae if metrics.scored else UNSCORED_ERROR
    obo = metrics.obo if metrics.scored else UNSCORED_ERROR
    for key, value in {
        "latency_ms": metrics.latency_ms,
        "latency_spread_ms": metrics.latency_spread_ms,
        "size_mib": metrics.size_mib,
        "mae": metrics.mae,
        "obo": metrics.obo,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }.items():
        trial.set_user_attr(key, value)
    if config.budget_ms is not None:
        trial.set_constraint("latency_over_budget_ms", metrics.latency_ms - config.budget_ms)
    if baseline_mae is not None:
        trial.set_constraint("mae_over_limit", mae - (baseline_mae + config.max_mae_increase))
    values = {"latency": metrics.latency_ms, "size": metrics.size_mib, "mae": mae, "obo": obo}
    return [values[name] for name in config.objectives]


def is_feasible(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and all(c <= 0 for c in trial.constraints.values())


def _best_feasible(study: optuna.Study) -> str:
    feasible = [t for t in study.get_trials(deepcopy=False) if is_feasible(t)]
    if not feasible:
        return "none feasible yet"
    fastest = min(feasible, key=lambda t: t.user_attrs["latency_ms"])
    return f"fastest feasible #{fastest.number}: {fastest.user_attrs['latency_ms']:.1f} ms"


def run_search(
    config: StudyConfig,
    storage_url: str | None,
    run_dir: Path,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> SearchOutcome:
    """Run trials until the study has ``config.trials`` of them; Ctrl-C stops after saving."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = open_study(config, storage_url, run_dir)
    recovered = tuple(recover_interrupted_trials(study))
    if recovered:
        log(f"re-queued trials interrupted by a killed worker: {list(recovered)}")
    context = build_context(config, run_dir, study)
    done_before = counted_trials(study.get_trials(deepcopy=False))
    bar = tqdm(
        total=config.trials,
        initial=min(done_before, config.trials),
        desc="trials",
        unit="trial",
        disable=not progress,
    )

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state == TrialState.FAIL and FAIL_REASON in trial.user_attrs:
            bar.write(f"trial {trial.number} failed: {trial.user_attrs[FAIL_REASON]}")
        bar.n = min(counted_trials(study.get_trials(deepcopy=False)), config.trials)
        front = len([t for t in study.best_trials if is_feasible(t)])
        bar.set_postfix_str(f"front {front}, {_best_feasible(study)}")

    finished = 0
    try:
        while counted_trials(study.get_trials(deepcopy=False)) < config.trials:
            study.optimize(
                lambda trial: run_trial(trial, context),
                n_trials=1,
                catch=(TrialFailed,),
                callbacks=[after_trial],
            )
            finished += 1
    except KeyboardInterrupt:
        mine = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if t.user_attrs.get(WORKER) == worker_id() and FAIL_REASON not in t.user_attrs
        ]
        for trial in mine[-1:]:
            requeue(study, trial)
        raise
    finally:
        bar.close()
    return SearchOutcome(study, finished, recovered)
