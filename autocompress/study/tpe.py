"""The study's TPE: Optuna's, with two changes that leave its model alone.

Start-up counts the sampler's own draws. Optuna's TPE draws at random until
``n_startup_trials`` trials have finished, counting every finished trial; a study's first
trials are enqueued (the baseline, the warm-start pipelines, recovery and retried trials:
Optuna keeps their parameters in ``system_attrs["fixed_params"]``), so at ten trials it had
drawn three points at random and modelled nothing. Here start-up lasts until the sampler's
own ``n_startup_trials`` draws have finished; the enqueued trials still feed the model once it
models. The gate sits in front of Optuna's: once the own draws reach the count, so do all
trials, and Optuna's own check passes unchanged.

Relative sampling reads the study's trials once per trial, not once per group of parameters.
With ``constant_liar`` Optuna's TPE reads every trial from the storage again for each group it
samples (to see other workers' running trials): some 40 reads a trial in the default space,
about 0.2 s of SQLite queries each trial, 30 s over 200 trials. Relative sampling happens once,
when a trial starts, so one snapshot taken then serves all its groups; Optuna's maintainers
propose exactly this (optuna/optuna#6265). Independent sampling still reads afresh. On one
worker the snapshot holds the same trials as the reads, so the samples are the same.
"""

from __future__ import annotations

import copy
from collections.abc import Container
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

__all__ = ["SnapshotTPESampler"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # what Optuna's start-up counts


class SnapshotTPESampler(optuna.samplers.TPESampler):
    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        study = _read_once(study)
        if _own_draws(study) < self._n_startup_trials:
            return {}  # as Optuna's start-up: every parameter is then sampled independently
        return super().sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if _own_draws(study) < self._n_startup_trials:
            return self._random_sampler.sample_independent(
                study, trial, param_name, param_distribution
            )
        return super().sample_independent(study, trial, param_name, param_distribution)


def _own_draws(study: optuna.Study) -> int:
    """How many of ``study``'s finished trials a sampler drew (were not enqueued)."""
    finished = study._get_trials(deepcopy=False, states=_FINISHED, use_cache=True)
    return sum("fixed_params" not in t.system_attrs for t in finished)


def _read_once(study: optuna.Study) -> optuna.Study:
    """``study`` whose trial reads use its per-trial snapshot (``Study.ask`` resets it)."""
    snapshot = copy.copy(study)

    def trials(
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        return study._get_trials(deepcopy, states, use_cache=True)

    snapshot._get_trials = trials  # type: ignore[method-assign]
    return snapshot
