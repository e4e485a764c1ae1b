"""What a trial stores, in one place: :class:`TrialRecord` reads it, :func:`note` and
:func:`enqueue` write it.

A trial's facts live in Optuna's user attributes, one per field below, under the field's name
(so studies stored before this module read the same); the task's errors are stored flat under
their own names (whatever names the task reports) and read back as ``errors``. A name
that is not a field is refused when written, so no module spells a key of its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "TrialRecord",
    "baseline_trial",
    "enqueue",
    "note",
    "note_test_scores",
    "test_scores",
]


@dataclass(frozen=True)
class TrialRecord:
    pipeline: dict | None = None  # Pipeline.to_dict() of what the trial compressed
    worker: str | None = None  # host:pid of the process that ran it
    baseline: bool = False  # the uncompressed model, each study's first trial
    warm_start: bool = False  # a known-good pipeline enqueued after the baseline
    recovers: int | None = None  # before the ladder: the trial it re-ran with recovery
    retry_of: int | None = None  # the trial an interrupted worker left, run again
    duplicate_of: int | None = None  # a finished trial of the same pipeline: its measurements
    surplus: bool = False  # found the study complete and did nothing
    fail_reason: str | None = None  # why its pipeline could not be applied or measured
    warnings: tuple[str, ...] = ()  # distinct library warnings it raised
    eager_ms: float | None = None  # one eager forward (for the latency prediction)
    predicted_latency_ms: float | None = None  # skipped: predicted far over the budget
    latency_ms: float | None = None  # the artifact's median
    latency_spread_ms: float | None = None  # its interquartile range
    baseline_ms: float | None = None  # the baseline, timed in turns with this trial
    speedup: float | None = None
    size_mib: float | None = None  # of the artifact's bytes
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    screened: dict | None = None  # stopped after its first items: their count and errors
    rungs: list[dict] = field(default_factory=list)  # the recovery ladder's (study.ladder.Rung)
    errors: dict[str, float | None] = field(default_factory=dict)  # the task's, by name

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialRecord:
        attrs = trial.user_attrs
        values = {k: v for k, v in attrs.items() if k in _FIELDS}
        if "warnings" in values:
            values["warnings"] = tuple(values["warnings"])
        errors = {k: v for k, v in attrs.items() if k not in _FIELDS}
        return cls(**values, errors=errors)

    @property
    def failed(self) -> bool:
        """Its pipeline could not be applied or measured (it ends PRUNED and infeasible, so
        the sampler learns from it; studies stored before end FAIL)."""
        return self.fail_reason is not None

    @property
    def skipped(self) -> bool:
        """Never built or timed: its latency was only predicted."""
        return self.predicted_latency_ms is not None


_FIELDS = {f.name for f in dataclasses.fields(TrialRecord)} - {"errors"}


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    unknown = [key for key in values if key not in _FIELDS and key != "errors"]
    if unknown:
        raise KeyError(f"{unknown[0]!r} is not a field of TrialRecord")
    errors = values.pop("errors", None) or {}
    clashing = [name for name in errors if name in _FIELDS]
    if clashing:
        raise KeyError(f"task error {clashing[0]!r} has the name of a TrialRecord field")
    return {**values, **errors}


def note(trial: optuna.Trial, **values: Any) -> None:
    """Store ``values`` (TrialRecord fields; ``errors`` a mapping) on a running trial."""
    for key, value in _attributes(values).items():
        trial.set_user_attr(key, value)


def enqueue(study: optuna.Study, params: dict, **values: Any) -> None:
    """Queue a trial with fixed ``params`` and these TrialRecord fields already set."""
    study.enqueue_trial(params, user_attrs=_attributes(values), skip_if_exists=False)


def baseline_trial(study: optuna.Study) -> FrozenTrial | None:
    """The study's finished baseline trial (the uncompressed model), if it has one."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return next((t for t in done if TrialRecord.of(t).baseline), None)


# Test scores are counted after the search (autocompress.study.test_set), when a trial cannot
# take attributes any more: each is a study attribute of this prefix and the trial's number.
_TEST_PREFIX = "test_scores:"


def note_test_scores(study: optuna.Study, number: int, scores: dict) -> None:
    """Store the test-set ``scores`` of finished trial ``number``."""
    study.set_user_attr(f"{_TEST_PREFIX}{number}", scores)


def test_scores(study: optuna.Study) -> dict[int, dict]:
    """Every trial's test-set scores, by trial number."""
    return {
        int(key.removeprefix(_TEST_PREFIX)): value
        for key, value in study.user_attrs.items()
        if key.startswith(_TEST_PREFIX)
    }
