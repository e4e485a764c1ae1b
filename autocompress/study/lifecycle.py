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
import logging
import os
import random
import socket
import sqlite3
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.exceptions import ExperimentalWarning, StorageInternalError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url

from autocompress.errors import UserError
from autocompress.study.config import MEASURED_OBJECTIVES, StudyConfig
from autocompress.study.record import TrialRecord, enqueue
from autocompress.study.tpe import SnapshotTPESampler

__all__ = [
    "SAMPLERS",
    "STORAGE_ERRORS",
    "Feasibility",
    "Heartbeat",
    "counted_trials",
    "load_existing_study",
    "make_storage",
    "open_study",
    "recover_interrupted_trials",
    "requeue",
    "requeue_last_interrupted",
    "stored_config",
    "stored_definition",
    "worker_id",
    "writable_dir",
]

# Errors of a storage that cannot be reached right now (a restarting database, a dropped
# connection): worth retrying, unlike a wrong URL or a corrupt file.
STORAGE_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    StorageInternalError,
)


POOL_SIZE, POOL_OVERFLOW = 2, 2  # connections a worker keeps open, and may add briefly


@dataclass(frozen=True)
class Heartbeat:
    """How a worker on another machine is declared dead: it stops beating every ``interval_s``;
    after ``grace_s`` without a beat its RUNNING trial is failed and queued again."""

    interval_s: int = 30
    grace_s: int = 120

    def __post_init__(self) -> None:
        if not 0 < self.interval_s < self.grace_s:
            raise UserError(
                f"heartbeat: need 0 < interval < grace, got {self.interval_s} and {self.grace_s}"
            )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Constraints are set on each trial (``Trial.set_constraint``); the samplers read them there.
SAMPLERS: dict[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    # group=True models the conditional space (each order has its own parameters) jointly per
    # group; without it multivariate TPE falls back to independent sampling, since the baseline
    # trial has no parameters and empties the intersection of every trial's space.
    "tpe": lambda seed: SnapshotTPESampler(
        seed=seed, multivariate=True, group=True, constant_liar=True
    ),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=20),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def _engine_options(url: str) -> dict[str, object]:
    """Connections are checked before use, so a database restart costs a reconnect, not an
    error. A worker uses two at a time (the trial loop and its heartbeat): a small pool keeps
    many workers within a server's ``max_connections``."""
    if url.startswith("sqlite"):
        return {"pool_pre_ping": True}
    return {"pool_pre_ping": True, "pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}


def _rdb_storage(url: str, heartbeat: Heartbeat, attempts: int = 5) -> RDBStorage:
    """An SQLAlchemy storage whose connections survive a database restart.

    Workers started together on a new PostgreSQL database all try to create Optuna's schema;
    all but one then fail on a unique constraint of the catalog. The schema is there a moment
    later, so opening again succeeds.
    """
    scheme, _, rest = url.partition("://")
    if scheme in ("postgresql", "postgresql+psycopg"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UserError(
                "PostgreSQL storage needs the psycopg driver: pip install 'autocompress[postgres]'"
            ) from None
        url = f"postgresql+psycopg://{rest}"  # not psycopg2, SQLAlchemy 2.0's default
    failed = 0
    while True:
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental, and are needed
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=_engine_options(url),
                    heartbeat_interval=heartbeat.interval_s,
                    grace_period=heartbeat.grace_s,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            failed += 1
            if failed == attempts:
                raise
            time.sleep(0.2 * failed + 0.2 * random.random())


# How long an SQLite study waits for another process's lock before giving up.
SQLITE_TIMEOUT_S = 10.0


def writable_dir(path: Path, what: str) -> Path:
    """``path``, created if missing: a directory that cannot take files (read-only, or under
    a file) is refused up front, naming it, rather than failing after hours of trials."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {what} {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"{what} {path} is not writable (read-only file system or permissions)")
    return path


def _sqlite_error_name(error: BaseException | None) -> str:
    """SQLite's name for the failure (SQLITE_BUSY, SQLITE_NOTADB...) behind the SQLAlchemy
    and Optuna wrappers; empty when SQLite is not the cause."""
    while error is not None:
        if isinstance(error, sqlite3.Error):
            return error.sqlite_errorname or ""
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return ""


def _storage_error(url: str, error: Exception) -> UserError:
    """One line for a storage that cannot be opened; an SQLite file is named, never touched."""
    name = _sqlite_error_name(error)
    database = make_url(url).database if url.startswith("sqlite") else None
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return UserError(
            f"study database {database} is locked by another process: retry when it is done; "
            "for many workers use --storage journal:FILE or a PostgreSQL URL"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return UserError(
            f"{database} is not a readable study database (left as it is): restore it from a "
            "backup, or move it away to start a new study"
        )
    text = str(error).strip()
    return UserError(f"cannot open storage {url}: {text.splitlines()[0] if text else name}")


def make_storage(
    url: str | None, run_dir: Path, heartbeat: Heartbeat = Heartbeat()
) -> optuna.storages.BaseStorage:
    """The storage at ``url``, or the run directory's SQLite file. An existing file is only
    read here, so a study can be read from a read-only directory."""
    if url is None:
        database = run_dir / "study.db"
        if not database.is_file():
            writable_dir(run_dir, "run directory")
        url = f"sqlite:///{database.resolve()}?timeout={SQLITE_TIMEOUT_S:g}"
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:")).expanduser()
        writable_dir(path.parent, "journal directory")
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as error:
            raise UserError(f"cannot open journal {path}: {error.strerror}") from None
    try:
        return _rdb_storage(url, heartbeat)
    except UserError:
        raise
    except Exception as error:  # SQLAlchemy raises many types for a bad or unreachable URL
        raise _storage_error(url, error) from error


def stored_config(study: optuna.Study) -> dict | None:
    text = study.user_attrs.get("config")
    return json.loads(text) if text else None


def stored_definition(name: str, storage_url: str | None, run_dir: Path) -> dict | None:
    """The definition of the study ``name`` if the storage holds it (None if not, without
    creating a default storage that does not exist yet)."""
    if storage_url is None and not (run_dir / "study.db").is_file():
        return None
    storage = make_storage(storage_url, run_dir)
    if name not in optuna.get_all_study_names(storage):
        return None
    return stored_config(optuna.load_study(study_name=name, storage=storage))


def _define(study: optuna.Study, config: StudyConfig, definition: dict) -> None:
    """Write a new study's definition; the stored ``config`` comes last, as the sign that the
    study is ready for other workers."""
    # The uncompressed model first, so every result can be shown relative to it.
    enqueue(study, {}, baseline=True)
    with warnings.catch_warnings():  # experimental in Optuna, and what plots label axes by
        warnings.simplefilter("ignore", ExperimentalWarning)
        study.set_metric_names(list(config.objectives))
    study.set_user_attr("config", json.dumps(definition))


def _wait_for_definition(study: optuna.Study, timeout_s: float = 30.0) -> dict | None:
    """The definition of a study another worker has just created (None if it never came:
    that worker died before writing it)."""
    deadline = time.monotonic() + timeout_s
    while (stored := stored_config(study)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return stored


MAY_CHANGE_ON_RESUME = ("trials", "accuracy_device")
# Settings that only decide which measured trials are feasible (:class:`Feasibility`): a study
# resumes with new ones and reads every trial it has with them.
READ_SETTINGS = ("budget_ms", "max_mae_increase")


def open_study(
    config: StudyConfig,
    storage_url: str | None,
    run_dir: Path,
    heartbeat: Heartbeat = Heartbeat(),
) -> tuple[optuna.Study, bool]:
    """Create the study, or resume it if it exists with the same definition; the flag says
    whether this call created it.

    ``trials`` (the study's total) and ``accuracy_device`` (where counting runs: the same
    counts on any device) may change between runs, and the limits of :data:`READ_SETTINGS`
    (which then become the study's: its trials are read with them); anything else that
    changed would make stored results incomparable with new ones, so it is refused. Of several
    workers started at once on a new study, exactly one creates and defines it (the storage
    decides); the others wait for its definition, so the baseline is queued once.
    """
    if config.sampler not in SAMPLERS:
        raise UserError(f"unknown sampler {config.sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # TPE's group option
        sampler = SAMPLERS[config.sampler](config.seed)
    if config.objectives is None:
        raise ValueError("open_study needs the objectives resolved (with_task_objectives)")
    storage = make_storage(storage_url, run_dir, heartbeat)
    definition = dataclasses.asdict(config)
    for key in MAY_CHANGE_ON_RESUME:
        del definition[key]
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=config.name,
            directions=["minimize"] * len(config.objectives),
            sampler=sampler,
        )
    except optuna.exceptions.DuplicatedStudyError:
        # Only the worker that creates a study draws from its seed: workers sharing a seed
        # would sample the same pipelines.
        sampler.reseed_rng()
        study = optuna.load_study(study_name=config.name, storage=storage, sampler=sampler)
        stored = _wait_for_definition(study)
    else:
        stored = None
    if stored is None:
        _define(study, config, definition)
        return study, True
    if stored != json.loads(json.dumps(definition)):
        changed = _changed(definition, stored)
        if not changed <= set(READ_SETTINGS):
            _refuse_other_definition(config.name, definition, stored)
        study.set_user_attr("config", json.dumps(definition))
        for key in sorted(changed):
            logging.getLogger(__name__).info(
                "study %r: %s %s -> %s; its measured trials are kept and read with it",
                config.name,
                key,
                stored[key],
                definition[key],
            )
    return study, False


def _changed(definition: dict, stored: dict) -> set[str]:
    """Keys whose value differs; a key the stored definition lacks counts as changed."""
    return {
        key
        for key in definition
        if key not in stored or json.dumps(definition[key]) != json.dumps(stored[key])
    }


def _refuse_other_definition(name: str, definition: dict, stored: dict) -> None:
    """Stored results are only comparable with new ones measured the same way."""
    newer = sorted(set(definition) - set(stored))
    if newer:
        raise UserError(
            f"study {name!r} was created by an older autocompress, which had no "
            f"{', '.join(newer)} setting and measured differently: start a new study "
            "with another --study name (or another --run-dir)"
        )
    changed = sorted(_changed(definition, stored) - set(READ_SETTINGS))
    raise UserError(
        f"study {name!r} exists with other settings ({', '.join(changed)}); "
        "use the same ones to resume, or another --study name"
    )


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
    record = TrialRecord.of(trial)
    original = trial.number if record.retry_of is None else record.retry_of
    enqueue(study, trial.params, retry_of=original, baseline=record.baseline)


def _orphaned(trial: FrozenTrial, grace_s: float) -> bool:
    """A RUNNING trial whose worker never said who it is, started ``grace_s`` ago: its worker
    lost the storage between creating it and its first write, and no heartbeat will ever
    fail it (there was none)."""
    started = trial.datetime_start
    return (
        TrialRecord.of(trial).worker is None
        and started is not None
        and (datetime.now() - started).total_seconds() > grace_s
    )


def recover_interrupted_trials(
    study: optuna.Study, own: bool = False, orphan_grace_s: float | None = None
) -> list[int]:
    """Fail and re-queue RUNNING trials whose worker process on this machine is gone; with
    ``own``, also this process's (after a lost storage connection none of them still runs);
    with ``orphan_grace_s``, also trials no worker ever claimed, that old."""
    host = socket.gethostname()
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = (TrialRecord.of(trial).worker or "").rpartition(":")
        if orphan_grace_s is not None and _orphaned(trial, orphan_grace_s):
            gone = True
        elif worker_host != host or not pid.isdigit():
            continue
        else:
            gone = own if int(pid) == os.getpid() else not _pid_alive(int(pid))
        if not gone:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):  # another worker recovered it first
            continue
        requeue(study, trial)
        recovered.append(trial.number)
    return recovered


def requeue_last_interrupted(study: optuna.Study) -> None:
    """Queue again this process's last trial if it was interrupted (failed with no reason of
    its own), so an interrupted baseline or sampled pipeline is still measured."""
    trials = study.get_trials(deepcopy=False)
    records = {t.number: TrialRecord.of(t) for t in trials}
    mine = [
        t
        for t in trials
        if t.state == TrialState.FAIL
        and records[t.number].worker == worker_id()
        and records[t.number].fail_reason is None
    ]
    if not mine:
        return
    last = mine[-1]
    retry_of = records[last.number].retry_of
    original = last.number if retry_of is None else retry_of
    if not any(n > last.number and r.retry_of == original for n, r in records.items()):
        requeue(study, last)


@dataclass(frozen=True)
class Feasibility:
    """Which finished trials are feasible, read from their stored measurements and the study's
    current limits: a budget changed on resume re-reads every trial already measured."""

    budget_ms: float | None = None
    max_mae_increase: float | None = None
    baseline_mae: float | None = None
    task_objectives: tuple[str, ...] = ()  # a trial the task did not score is infeasible

    @classmethod
    def of(cls, study: optuna.Study) -> Feasibility:
        config = stored_config(study) or {}
        objectives = config.get("objectives") or []
        limit = config.get("max_mae_increase")
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        baseline = next((t for t in done if TrialRecord.of(t).baseline), None)
        return cls(
            budget_ms=config.get("budget_ms"),
            max_mae_increase=limit,
            baseline_mae=TrialRecord.of(baseline).errors.get("mae") if baseline else None,
            task_objectives=tuple(o for o in objectives if o not in MEASURED_OBJECTIVES)
            + (("mae",) if limit is not None else ()),
        )

    def __call__(self, trial: FrozenTrial) -> bool:
        if trial.state != TrialState.COMPLETE:
            return False
        record = TrialRecord.of(trial)
        if self.budget_ms is not None and record.latency_ms > self.budget_ms:
            return False
        if any(record.errors.get(name) is None for name in self.task_objectives):
            return False  # over an earlier, smaller budget, or screened out: never scored
        if self.max_mae_increase is None:
            return True
        mae = record.errors["mae"]
        return self.baseline_mae is not None and mae <= self.baseline_mae + self.max_mae_increase


def counted_trials(trials: Sequence[FrozenTrial], before: int | None = None) -> int:
    """Trials that count towards the study's total: finished, failed for a stated reason
    (a pipeline that cannot compress), skipped on a latency prediction, or running.
    Interrupted ones don't: they are retried."""
    return sum(
        1
        for t in trials
        if (before is None or t.number < before)
        and (
            t.state in (TrialState.COMPLETE, TrialState.RUNNING)
            or (t.state == TrialState.FAIL and TrialRecord.of(t).fail_reason is not None)
            or (t.state == TrialState.PRUNED and TrialRecord.of(t).skipped)
        )
    )
