"""Many workers on one study: who runs a trial, which trials count towards the total, and
queueing again the trials of a worker that died.

Trials interrupted by a killed worker are failed and queued again with the same parameters:
at once when the worker ran on this machine (its process is gone), after the heartbeat's grace
period otherwise (RDB storages only; Optuna has no heartbeat for journal files).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime

import optuna
from optuna.trial import FrozenTrial, TrialState

from autocompress.study.record import TrialRecord, enqueue

__all__ = [
    "counted_trials",
    "recover_interrupted_trials",
    "requeue",
    "requeue_last_interrupted",
    "worker_id",
]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    study: optuna.Study, *, own: bool = False, orphan_grace_s: float | None = None
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


def _measured_or_failed(record: TrialRecord) -> bool:
    """A PRUNED trial that did the study's work: skipped on a latency prediction, or failed."""
    return record.skipped or record.failed


def counted_trials(trials: Sequence[FrozenTrial], before: int | None = None) -> int:
    """Trials that count towards the study's total: finished (a duplicate of an earlier
    pipeline included), failed for a stated reason (a pipeline that cannot compress, a
    compression over the study's limit, an evaluation that returned NaN), skipped on a latency
    prediction, or running. So a study of N trials runs N, failures included, but for two
    kinds: interrupted ones (failed with no reason of their own) are retried, and surplus ones
    (PRUNED and marked: the total was reached while they started) did nothing."""
    return sum(
        1
        for t in trials
        if (before is None or t.number < before)
        and (
            t.state in (TrialState.COMPLETE, TrialState.RUNNING)
            or (t.state == TrialState.FAIL and TrialRecord.of(t).failed)
            or (t.state == TrialState.PRUNED and _measured_or_failed(TrialRecord.of(t)))
        )
    )
