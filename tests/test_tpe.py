"""The study's TPE reads the trials once per trial for its relative sampling, and samples what
Optuna's TPE samples; its start-up counts only its own draws, not enqueued trials."""

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


def _draws(sampler: optuna.samplers.BaseSampler, enqueued: list[dict]) -> list[dict]:
    """Own draws of ``sampler`` on a study that runs ``enqueued`` first, half of them again
    after four draws (as recovery queues trials mid-study)."""
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    for params in enqueued:
        study.enqueue_trial(params)
    study.optimize(_objective, n_trials=len(enqueued) + 4)
    for params in enqueued[::2]:
        study.enqueue_trial(params)
    study.optimize(_objective, n_trials=len(enqueued[::2]) + 6)
    return [t.params for t in study.trials if "fixed_params" not in t.system_attrs]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("startup", [3, 7])
def test_start_up_is_the_samplers_own_draws_and_enqueued_trials_do_not_count(startup):
    # A baseline with no parameters and warm-start points, as a study queues them.
    enqueued = [{}, *({"order": order, f"{order}0": 0.5} for order in "ABCD")]
    tpe = SnapshotTPESampler(
        seed=5, n_startup_trials=startup, multivariate=True, group=True, constant_liar=True
    )
    random = optuna.samplers.RandomSampler(seed=5)
    draws, random_draws = _draws(tpe, enqueued), _draws(random, enqueued)
    assert len(draws) == 10
    # Start-up draws at random (TPE's random sampler shares its seed); then TPE models.
    assert draws[:startup] == random_draws[:startup]
    assert draws[startup] != random_draws[startup]
