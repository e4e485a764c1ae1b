"""Which trials are feasible, in one place: the constraints a running trial sets for the
sampler and the verdict read later from stored trials are the same rules.

A trial is feasible when its latency is within the study's budget, every task error the study
needs was scored, and each error with a limit (``max_error_increase``) is at most that limit
above the baseline's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from autocompress.study.config import MEASURED_OBJECTIVES, Cap, allowed_increase
from autocompress.study.record import TrialRecord, baseline_trial
from autocompress.study.storage import stored_config

__all__ = ["Feasibility"]


@dataclass(frozen=True)
class Feasibility:
    """Which finished trials are feasible, read from their stored measurements and the study's
    current limits: a budget changed on resume re-reads every trial already measured."""

    budget_ms: float | None = None
    max_error_increase: Mapping[str, Cap] = field(default_factory=dict)
    baseline_errors: Mapping[str, float | None] = field(default_factory=dict)
    task_objectives: tuple[str, ...] = ()  # a trial the task did not score is infeasible

    @classmethod
    def of(cls, study: optuna.Study) -> Feasibility:
        """The study's limits (its stored definition), against its stored baseline trial."""
        config = stored_config(study) or {}
        objectives = config.get("objectives") or []
        limits = config.get("max_error_increase") or {}
        baseline = baseline_trial(study) if limits else None
        return cls(
            budget_ms=config.get("budget_ms"),
            max_error_increase=limits,
            baseline_errors=TrialRecord.of(baseline).errors if baseline else {},
            task_objectives=tuple(
                dict.fromkeys([*(o for o in objectives if o not in MEASURED_OBJECTIVES), *limits])
            ),
        )

    def constraints(
        self, *, latency_ms: float, errors: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """Each limit's excess, by constraint name (feasible when none is above 0): the
        latency's over the budget, and, given ``errors``, each limited error's over its
        limit above the baseline."""
        excess = {}
        if self.budget_ms is not None:
            excess["latency_over_budget_ms"] = latency_ms - self.budget_ms
        if errors is not None:
            for name, limit in self.max_error_increase.items():
                baseline = self.baseline_errors[name]
                excess[f"{name}_over_limit"] = (
                    errors[name] - baseline - allowed_increase(limit, baseline)
                )
        return excess

    def __call__(self, trial: FrozenTrial) -> bool:
        if trial.state != TrialState.COMPLETE:
            return False
        record = TrialRecord.of(trial)
        if any(record.errors.get(name) is None for name in self.task_objectives):
            return False  # over an earlier, smaller budget, or screened out: never scored
        if any(self.baseline_errors.get(name) is None for name in self.max_error_increase):
            return False  # no baseline to compare with yet
        excess = self.constraints(latency_ms=record.latency_ms, errors=record.errors)
        return all(value <= 0 for value in excess.values())
