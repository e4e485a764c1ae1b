"""The recovery ladder's rules: which trials climb, what a climb is expected to win, what it may
cost, and which rung a trial reports."""

import optuna
import pytest
from optuna.trial import create_trial

from autocompress.compression import FinetuneStep, Pipeline, PruneStep, QuantizeStep
from autocompress.study.config import RecoveryConfig
from autocompress.study.ladder import (
    MIN_CLIMBS_SEEN,
    Ladder,
    Rung,
    best_rung,
    gain,
    seconds_per_step,
    worth_climbing,
)

RECOVERY = RecoveryConfig(rungs=(30, 150), share=0.3, bn_batches=4)
BASELINE = {"mae": 0.15, "obo": 0.25}


def _rung(steps: int, mae: float, obo: float, seconds: float = 1.0) -> Rung:
    errors = {"mae": mae, "obo": obo}
    return Rung(steps, errors, errors, errors, 16, seconds, seconds)


def _trial(rungs: list[Rung], seconds: float = 10.0) -> optuna.trial.FrozenTrial:
    return create_trial(
        values=[1.0],
        user_attrs={"rungs": [r.to_dict() for r in rungs], "seconds": {"compression": seconds}},
    )


def _climbs(ratio: float, count: int) -> list[optuna.trial.FrozenTrial]:
    """Trials whose errors fell by ``ratio`` from rung 0 to 30 steps, 3 s a step."""
    return [_trial([_rung(0, 0.6, 0.8), _rung(30, 0.6 * ratio, 0.8 * ratio, 90.0)], 1e4)] * count


def _worth(rungs, trials, front, *, caps=None, point=None):
    return worth_climbing(
        rungs,
        30,
        point or {"latency": 10.0, "size": 1.0},
        trials=trials,
        front=front,
        objectives=("latency", "size", "mae", "obo"),
        baseline_errors=BASELINE,
        caps=caps or {},
        recovery=RECOVERY,
    )


def test_gain_is_an_optimistic_quantile_of_the_studys_climbs_and_unknown_before_a_few():
    assert gain(_climbs(0.5, MIN_CLIMBS_SEEN - 1), 0, 30, "mae") is None
    trials = _climbs(0.5, 5) + _climbs(0.9, 5)
    assert gain(trials, 0, 30, "mae") == pytest.approx(0.5)
    assert gain(trials, 30, 150, "mae") is None  # nobody climbed there yet


def test_a_damaged_trial_climbs_only_while_its_recovered_estimate_could_reach_the_front():
    damaged = [_rung(0, 0.6, 0.8, seconds=0.4)]
    better_and_faster = {"latency": 9.0, "size": 1.0, "mae": 0.16, "obo": 0.3}
    # No climb seen yet: assume it could recover to the uncompressed model, which the front
    # point does not beat.
    assert _worth(damaged, [_trial([], 1e4)], [better_and_faster])
    # Climbs seen, each halving the errors at best: 0.3 / 0.4 is dominated.
    assert not _worth(damaged, _climbs(0.5, 5), [better_and_faster])
    # The same climbs, a slower front point: still worth it.
    assert _worth(damaged, _climbs(0.5, 5), [{**better_and_faster, "latency": 11.0}])


def test_a_climb_must_fit_the_recovery_share_of_the_studys_time():
    rungs = [_rung(0, 0.3, 0.4, seconds=1.0)]  # 4 batches in 1 s: a step estimated at 1 s
    assert seconds_per_step([], rungs[0], 4) == pytest.approx(1.0)
    # 30 s of rungs would be 30 / (60 + 30) of the time: over the 0.3 share.
    assert not _worth(rungs, [_trial([], 60.0)], [])
    assert _worth(rungs, [_trial([], 100.0)], [])
    # Once climbs are measured (3 s a step here) they set the cost.
    assert seconds_per_step(_climbs(0.5, 3), rungs[0], 4) == pytest.approx(3.0)


def test_no_climb_can_bring_a_trial_within_its_caps_when_even_the_best_gain_cannot():
    rungs = [_rung(0, 0.6, 0.8)]
    many = _climbs(0.5, 5)
    assert _worth(rungs, many, [], caps={"mae": 0.2})  # 0.3 <= 0.15 + 0.2
    assert not _worth(rungs, many, [], caps={"mae": 0.1})


def test_a_trial_reports_its_best_complete_rung():
    screened = Rung(150, None, {"mae": 0.0, "obo": 0.0}, {"mae": 0.1, "obo": 0.1}, 4, 1.0, 1.0)
    rungs = [_rung(0, 0.4, 0.5), _rung(30, 0.2, 0.3), screened]
    assert best_rung(rungs).steps == 30
    assert best_rung([_rung(0, 0.2, 0.3), _rung(30, 0.2, 0.3)]).steps == 0  # a tie: fewer steps
    assert best_rung([screened]) is screened


def test_the_ladder_recovers_before_int8_and_only_pipelines_that_changed_weights():
    prune = PruneStep(ratios={"encoder": 0.3})
    quantize = QuantizeStep(layers=["head"])
    ladder = Ladder.of(Pipeline([prune, quantize]), RECOVERY)
    assert ladder.pipeline(150).steps == [prune, RECOVERY.step(150), quantize]
    assert ladder.pipeline(0).steps[1] == FinetuneStep(steps=0, bn_batches=4)
    assert Ladder.of(Pipeline([quantize]), RECOVERY) is None
    assert Ladder.of(Pipeline([prune]), RecoveryConfig(rungs=(), bn_batches=0)) is None
