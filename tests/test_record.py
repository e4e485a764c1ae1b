"""A trial's record: written and read in one place, under the names earlier studies used."""

import optuna
import pytest

from autocompress.study.record import TrialRecord, enqueue, note


def test_a_record_reads_back_what_was_noted_and_the_task_errors_flat():
    study = optuna.create_study()
    trial = study.ask()
    note(trial, latency_ms=12.5, pipeline={"steps": []}, errors={"mae": 0.2, "obo": None})
    note(trial, warnings=["a", "b"])
    study.tell(trial, 1.0)
    (frozen,) = study.trials
    assert frozen.user_attrs["mae"] == 0.2 and frozen.user_attrs["latency_ms"] == 12.5
    record = TrialRecord.of(frozen)
    assert record.latency_ms == 12.5 and record.pipeline == {"steps": []}
    assert record.errors == {"mae": 0.2, "obo": None} and record.warnings == ("a", "b")
    assert not record.baseline and not record.skipped


def test_a_name_that_is_not_a_field_is_refused():
    trial = optuna.create_study().ask()
    with pytest.raises(KeyError, match="latency"):
        note(trial, latency=3.0)
    with pytest.raises(KeyError, match="size_mib"):
        note(trial, errors={"size_mib": 1.0})


def test_queued_fields_arrive_on_the_trial_that_runs_them():
    study = optuna.create_study()
    enqueue(study, {"x": 1.0}, recovers=4, retry_of=2)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 2)})
    record = TrialRecord.of(trial)
    assert (record.recovers, record.retry_of, trial.params["x"]) == (4, 2, 1.0)
