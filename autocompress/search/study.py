"""Creating, resuming and sharing an Optuna study.

Storage: an SQLite file under the run directory by default; any SQLAlchemy URL (PostgreSQL,
MySQL) for workers on many machines; ``journal:PATH`` for Optuna's journal file, which is
safe for many processes on one machine. Running the same command again resumes the study.

Trials interrupted by a killed worker are failed and queued again with the same parameters:
at once when the worker ran on this machine (its process is gone), after the heartbeat's grace
period otherwise (RDB storages only; Optuna has no heartbeat for journal files).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from autocompress.errors import UserError
from autocompress.search.config import StudyConfig

__all__ = [
    "FAIL_REASON",
    "SAMPLERS",
    "WORKER",
    "counted_trials",
    "load_existing_study",
    "make_storage",
    "open_study",
    "recover_interrupted_trials",
    "requeue",
    "stored_config",
    "worker_id",
]

WORKER = "worker"  # user attr: host:pid of the process that ran the trial
FAIL_REASON = "fail_reason"  # user attr: why the trial's compression or evaluation failed
HEARTBEAT_SECONDS, GRACE_SECONDS = 30, 120


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Constraints are set on each trial (``Trial.set_constraint``); the samplers read them there.
SAMPLERS: dict[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=20),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def make_storage(url: str | None, run_dir: Path) -> optuna.storages.BaseStorage:
    if url is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(run_dir / 'study.db').resolve()}"
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:")).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental, and are needed
            warnings.simplefilter("ignore", ExperimentalWarning)
            return RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
    except Exception as error:  # SQLAlchemy raises many types for a bad or unreachable URL
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise UserError(f"cannot open storage {url}: {first_line}") from error


def stored_config(study: optuna.Study) -> dict | None:
    text = study.user_attrs.get("config")
    return json.loads(text) if text else None


def open_study(config: StudyConfig, storage_url: str | None, run_dir: Path) -> optuna.Study:
    """Create the study, or resume it if it exists with the same definition.

    ``trials`` may change between runs (it is the study's total); anything else that changed
    would make stored results incomparable with new ones, so it is refused.
    """
    if config.sampler not in SAMPLERS:
        raise UserError(f"unknown sampler {config.sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    sampler = SAMPLERS[config.sampler](config.seed)
    storage = make_storage(storage_url, run_dir)
    study = optuna.create_study(
        storage=storage,
        study_name=config.name,
        directions=["minimize"] * len(config.objectives),
        sampler=sampler,
        load_if_exists=True,
    )
    definition = dataclasses.asdict(config)
    del definition["trials"]
    stored = stored_config(study)
    if stored is None:
        study.set_user_attr("config", json.dumps(definition))
        with warnings.catch_warnings():  # experimental in Optuna, and what plots label axes by
            warnings.simplefilter("ignore", ExperimentalWarning)
            study.set_metric_names(list(config.objectives))
        # The uncompressed model first, so every result can be shown relative to it.
        study.enqueue_trial({}, user_attrs={"baseline": True})
    elif stored != json.loads(json.dumps(definition)):
        changed = sorted(
            k for k in definition if json.dumps(definition[k]) != json.dumps(stored.get(k))
        )
        raise UserError(
            f"study {config.name!r} exists with other settings ({', '.join(changed)}); "
            "use the same ones to resume, or another --study name"
        )
    return study


def load_existing_study(name: str, storage_url: str | None, run_dir: Path) -> optuna.Study:
    """A study that must already exist (for ``pareto`` and ``export``)."""
    if storage_url is None and not (run_dir / "study.db").is_file():
        raise UserError(f"no studies in {run_dir} yet: run `autocompress search` first")
    storage = make_storage(storage_url, run_dir)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise UserError(
            f"no study named {name!r} in this storage; studies: {', '.join(names) or 'none'}"
        ) from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue ``trial``'s parameters again, marked as a retry of the original trial."""
    original = trial.user_attrs.get("retry_of", trial.number)
    attrs = {"retry_of": original}
    if trial.user_attrs.get("baseline"):
        attrs["baseline"] = True
    study.enqueue_trial(trial.params, user_attrs=attrs, skip_if_exists=False)


def recover_interrupted_trials(study: optuna.Study) -> list[int]:
    """Fail and re-queue RUNNING trials whose worker process on this machine is gone."""
    host = socket.gethostname()
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER, "")
        worker_host, _, pid = worker.rpartition(":")
        if worker_host != host or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):  # another worker recovered it first
            continue
        requeue(study, trial)
        recovered.append(trial.number)
    return recovered


def counted_trials(trials: Sequence[FrozenTrial], before: int | None = None) -> int:
    """Trials that count towards the study's total: finished, failed for a stated reason
    (a pipeline that cannot compress), or running. Interrupted ones don't: they are retried."""
    return sum(
        1
        for t in trials
        if (before is None or t.number < before)
        and (
            t.state in (TrialState.COMPLETE, TrialState.RUNNING)
            or (t.state == TrialState.FAIL and FAIL_REASON in t.user_attrs)
        )
    )
