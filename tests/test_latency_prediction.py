"""Trials predicted far over the latency budget: the fit that predicts, and such a trial
counted towards the total yet never on the front or exported."""

import dataclasses

import pytest
from optuna.trial import TrialState, create_trial

from autocompress.errors import UserError
from autocompress.spaces.config import SpaceConfig
from autocompress.study import preflight
from autocompress.study.config import DataConfig, LatencyConfig, StudyConfig
from autocompress.study.context import build_context
from autocompress.study.export import export_trial
from autocompress.study.latency_prediction import LatencyFit
from autocompress.study.pareto import feasible_front
from autocompress.study.record import TrialRecord
from autocompress.study.runner import run_search
from autocompress.study.workers import counted_trials


def _measured(eager: float, latency: float):
    return create_trial(
        state=TrialState.COMPLETE,
        values=[latency],
        user_attrs={"eager_ms": eager, "latency_ms": latency},
    )


def test_the_fit_follows_a_power_law_and_skips_only_far_over_the_budget():
    trials = [_measured(eager, 3 * eager**0.9) for eager in (10, 20, 40, 80, 160)]
    assert LatencyFit.of(trials[:4]) is None  # too few points to trust
    fit = LatencyFit.of(trials)
    assert fit.predict_ms(50) == pytest.approx(3 * 50**0.9)
    assert fit.far_over(100, budget_ms=50) and not fit.far_over(100, budget_ms=200)
    assert not fit.far_over(100, budget_ms=3 * 100**0.9 / 1.4)  # over, but not by 1.5x


def test_a_predicted_trial_counts_but_never_reaches_the_front_or_export(
    tiny_set, tmp_path, monkeypatch
):
    monkeypatch.setattr(preflight, "MIN_BUDGET_SHARE", 0.0)  # let any budget through
    config = StudyConfig(
        name="predicted",
        trials=8,
        sampler="random",
        budget_ms=1e-3,  # every trial is far over it
        data=DataConfig(path=str(tiny_set), calibration_clips=1, test_share=None),
        latency=LatencyConfig(warmup=1, runs=2),
        space=SpaceConfig(orders=("P",), prune_ratio=(0.1, 0.5)),
    )
    study = run_search(config, None, tmp_path, progress=False).study
    measured = [t for t in study.trials if t.state == TrialState.COMPLETE]
    predicted = [t for t in study.trials if TrialRecord.of(t).skipped]
    assert len(measured) == 5 and len(predicted) == 3  # the fit needs five measured trials
    assert all(t.state == TrialState.PRUNED and "latency_ms" not in t.user_attrs for t in predicted)
    assert counted_trials(study.trials) == 8 == len(study.trials)
    assert not feasible_front(study)
    loose = dataclasses.replace(config, budget_ms=1e6)  # a budget it would meet, read later
    study = run_search(loose, None, tmp_path, progress=False).study
    assert {t.number for t in feasible_front(study)} <= {t.number for t in measured}
    context = build_context(loose, tmp_path, study)
    with pytest.raises(UserError, match="predicted"):
        export_trial(study, predicted[0].number, context, tmp_path / "out")
