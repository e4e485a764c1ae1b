"""The study's TPE reads the trials once per trial for its relative sampling, and samples what
Optuna's TPE samples."""

import optuna
import pytest

from autocompress.study.tpe import SnapshotTPESampler


class _CountingStorage(optuna.storages.InMemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_all_trials(self, *args, **kwargs):
        self.reads += 1
        return super().get_all_trials(*args, **kwargs)


def _objective(trial: optuna.Trial) -> tuple[float, float]:
    """A conditional space of several groups, like the pipeline space's orders."""
    order = trial.suggest_categorical("order", ["A", "B", "C", "D", "AB", "CD", "ABCD"])
    total = 0.0
    for letter in order:
        for index in range(3):
            total += trial.suggest_float(f"{letter}{index}", 0.0, 1.0)
    return total, -total * len(order)


def _sampled(sampler_class) -> tuple[list[dict], int]:
    storage = _CountingStorage()
    sampler = sampler_class(seed=3, multivariate=True, group=True, constant_liar=True)
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=sampler, storage=storage
    )
    study.optimize(_objective, n_trials=25)
    return [t.params for t in study.trials], storage.reads


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_one_read_per_trial_and_the_same_samples_as_optunas_tpe():
    params, reads = _sampled(SnapshotTPESampler)
    optunas, optunas_reads = _sampled(optuna.samplers.TPESampler)
    assert params == optunas
    assert reads < optunas_reads / 2
