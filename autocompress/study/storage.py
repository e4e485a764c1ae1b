"""Where a study lives, and opening it.

An SQLite file under the run directory by default; any SQLAlchemy URL (PostgreSQL, MySQL) for
workers on many machines; ``journal:PATH`` for Optuna's journal file, which is safe for many
processes on one machine. A storage that cannot be opened is said in one line, naming it.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.exceptions import ExperimentalWarning, StorageInternalError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalStorage
from sqlalchemy.engine import make_url

from autocompress.errors import UserError, first_line
from autocompress.study.config import current_definition

__all__ = [
    "DEFAULT_HEARTBEAT",
    "SQLITE_TIMEOUT_S",
    "STORAGE_ERRORS",
    "Heartbeat",
    "make_storage",
    "stored_config",
    "stored_definition",
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


# The default: frozen, so safe as an argument default.
DEFAULT_HEARTBEAT = Heartbeat()


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
    return UserError(f"cannot open storage {url}: {first_line(error, otherwise=name)}")


def make_storage(
    url: str | None, run_dir: Path, *, heartbeat: Heartbeat = DEFAULT_HEARTBEAT
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
    """The study's stored definition, in today's keys (a study created before a key was
    renamed reads the same as one created now)."""
    text = study.user_attrs.get("config")
    return current_definition(json.loads(text)) if text else None


def stored_definition(name: str, storage_url: str | None, run_dir: Path) -> dict | None:
    """The definition of the study ``name`` if the storage holds it (None if not, without
    creating a default storage that does not exist yet)."""
    if storage_url is None and not (run_dir / "study.db").is_file():
        return None
    storage = make_storage(storage_url, run_dir)
    if name not in optuna.get_all_study_names(storage):
        return None
    return stored_config(optuna.load_study(study_name=name, storage=storage))
