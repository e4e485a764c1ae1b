"""Bad usage of a first hour ends in one line before trial 0 (autocompress.study.preflight), or
fails only the trial, with its reason, counted in the study's total."""

from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from torch import nn

import autocompress
from autocompress.backends.fresh_process import ChildFailed, run_in_fork
from autocompress.errors import UserError
from autocompress.study.pareto import feasible_front
from autocompress.study.workers import counted_trials

SETTINGS = {
    "sampler": "random",
    "warm_start": False,
    "latency": {"warmup": 1, "runs": 3},
    "space": {"orders": ["P"], "prune_ratio": [0.2, 0.5]},
}


def _model() -> nn.Module:
    """About 0.1 ms a call: a budget of 0.001 ms is far under a twentieth of it."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.Flatten()).eval()


INPUTS = torch.randn(4, 3, 16, 16)


def _error(model: nn.Module) -> float:
    with torch.no_grad():
        return float(model(INPUTS).abs().mean())


def _search(tmp_path: Path, evaluate=_error, inputs=INPUTS, trials=3, **settings):
    return autocompress.search(
        _model(),
        inputs,
        evaluate=evaluate,
        objectives=["error"],
        trials=trials,
        run_dir=tmp_path,
        settings=SETTINGS | settings,
        progress=False,
    )


def _stored_trials(tmp_path: Path) -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    return optuna.load_study(study_name="custom", storage=storage).trials


def test_nan_evaluations_fail_their_trials_with_the_reason_and_count(tmp_path):
    calls = []

    def finite_once(model: nn.Module) -> float:  # the pre-flight's call is fine, then NaN
        calls.append(model)
        return 0.5 if len(calls) == 1 else float("nan")

    study = _search(tmp_path, finite_once).study
    assert len(study.trials) == 3 == counted_trials(study.trials)
    assert all(t.state == TrialState.PRUNED for t in study.trials)
    assert {t.user_attrs["fail_reason"] for t in study.trials} == {
        "evaluation returned nan for 'error'"
    }


def _raises(model: nn.Module) -> float:
    raise KeyError("no such label")


def test_an_evaluate_that_raises_shows_its_traceback_once_and_stops(tmp_path, capsys):
    with pytest.raises(UserError, match=r"evaluate raised on the uncompressed model .*KeyError"):
        _search(tmp_path, _raises)
    err = capsys.readouterr().err
    assert err.count("Traceback") == 1 and "in _raises" in err
    assert "autocompress/study" not in err  # the user's frames only
    assert not (tmp_path / "study.db").exists()  # no study, let alone a trial


@pytest.mark.parametrize(
    ("evaluate", "inputs", "message"),
    [
        (lambda m: {"accuracy": 0.9}, INPUTS, "returned \\['accuracy'\\], without 'error'"),
        (lambda m: float("inf"), INPUTS, "evaluation returned inf for 'error'"),
        (_error, torch.randn(4, 5, 16, 16), "does not run on its example inputs \\(\\(1, 5, 16"),
    ],
    ids=["missing-key", "inf", "wrong-shape"],
)
def test_bad_usage_is_one_line_before_trial_0(tmp_path, capsys, evaluate, inputs, message):
    with pytest.raises(UserError, match=message) as caught:
        _search(tmp_path, evaluate, inputs)
    assert "\n" not in str(caught.value) and "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "study.db").exists()


def test_a_budget_no_trial_could_meet_is_refused_before_trial_0(tmp_path):
    with pytest.raises(UserError, match=r"budget_ms 0.001 is under 1/20 .* ms as this study"):
        _search(tmp_path, budget_ms=0.001)
    assert [t.state for t in _stored_trials(tmp_path)] == [TrialState.WAITING]  # never ran


def test_a_pipeline_measured_before_is_not_built_again(tmp_path):
    study = _search(tmp_path, trials=2).study
    first = study.trials[1]
    assert first.state == TrialState.COMPLETE
    study.enqueue_trial(first.params)
    study = _search(tmp_path, trials=3).study
    again = study.trials[2]
    assert again.user_attrs["duplicate_of"] == 1 and again.values == first.values
    assert again.user_attrs["pipeline"] == first.user_attrs["pipeline"]
    for key in ("latency_ms", "size_mib", "error"):
        assert again.user_attrs[key] == first.user_attrs[key]
    assert again.constraints == first.constraints
    assert "seconds" not in again.user_attrs  # neither compressed nor timed
    assert counted_trials(study.trials) == 3
    assert 2 not in [t.number for t in feasible_front(study)]  # the point is trial 1's


def test_a_compression_over_the_limit_fails_the_trial(tmp_path):
    study = _search(tmp_path, compression_limit_s=1e-9).study
    baseline, *compressed = study.trials
    assert baseline.state == TrialState.COMPLETE  # a copy, not compressed: no limit
    assert len(compressed) == 2 and all(t.state == TrialState.PRUNED for t in compressed)
    for trial in compressed:
        assert "over compression_limit_s (1e-09 s)" in trial.user_attrs["fail_reason"]


def test_the_compression_limit_must_be_positive(tmp_path):
    with pytest.raises(UserError, match="compression_limit_s must be positive"):
        _search(tmp_path, compression_limit_s=0)


def _raise_after_an_empty_line() -> bytes:
    raise RuntimeError("\nModule 'Net' has no attribute 'cache':\n  File ...")


def test_a_child_failure_keeps_the_first_line_of_its_message():
    with pytest.raises(ChildFailed) as caught:
        run_in_fork(_raise_after_an_empty_line)
    assert str(caught.value) == "RuntimeError: Module 'Net' has no attribute 'cache':"
