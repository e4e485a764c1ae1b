"""Speed-ups that survive a change of load: every trial is timed in turns with the baseline,
and the fastest point is picked only by a win larger than the timing spread."""

from __future__ import annotations

import dataclasses

import optuna
import pytest

from autocompress.evaluators.turns import split_runs, time_in_turns
from autocompress.spaces.config import SpaceConfig
from autocompress.study.config import LatencyConfig, StudyConfig
from autocompress.study.context import build_context
from autocompress.study.fastest import fastest_of
from autocompress.study.record import TrialRecord
from autocompress.study.retime import Retimed, retime_trials
from autocompress.study.runner import run_search
from autocompress.timing import Timing
from tests.plugins import loaded_device, tiny_family  # noqa: F401  (they register)


def test_runs_are_shared_out_over_the_rounds():
    assert split_runs(15, 4) == [4, 4, 4, 3]
    assert split_runs(2, 4) == [1, 1]  # never an empty turn
    with pytest.raises(ValueError):
        split_runs(0, 4)


def test_turns_alternate_their_order_round_after_round():
    turns = []

    def sampler(key):
        def runs(count):
            turns.append((key, count))
            return [float(count)] * count

        return runs

    timings = time_in_turns({"a": sampler("a"), "b": sampler("b")}, runs=5, rounds=3)
    assert turns == [("a", 2), ("b", 2), ("b", 2), ("a", 2), ("a", 1), ("b", 1)]
    assert timings["a"].runs == timings["b"].runs == 5


def _load_changing_study(tmp_path, monkeypatch, before: float, after: float):
    """A tiny-mlp study on the loaded device: trial 0 (the baseline) under load ``before``,
    the rest under ``after``, then every trial timed again under load 1."""
    config = StudyConfig(
        name="load",
        preset="tiny-mlp",
        trials=4,
        sampler="random",
        warm_start=False,
        artifact="loaded-device",
        latency=LatencyConfig(warmup=1, runs=3),
        space=SpaceConfig(orders=("P",), prune_ratio=(0.3, 0.7)),
    )
    monkeypatch.setenv(loaded_device.LOAD_VARIABLE, str(before))
    run_search(dataclasses.replace(config, trials=1), None, tmp_path, progress=False)
    monkeypatch.setenv(loaded_device.LOAD_VARIABLE, str(after))
    study = run_search(config, None, tmp_path, progress=False).study
    monkeypatch.setenv(loaded_device.LOAD_VARIABLE, "1")
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    trials = [t for t in complete if t.number > 0 and "duplicate_of" not in t.user_attrs]
    quiet = retime_trials(trials, build_context(config, tmp_path, study), rounds=1)
    return complete[0], trials, {r.number: r.speedup for r in quiet}


@pytest.mark.parametrize(("before", "after"), [(1.0, 3.0), (3.0, 1.0)])
def test_speedups_hold_when_the_machine_gets_busy_or_quiet_after_trial_0(
    before, after, tmp_path, monkeypatch
):
    baseline, trials, quiet = _load_changing_study(tmp_path, monkeypatch, before, after)
    assert trials and baseline.user_attrs["baseline"]
    for trial in trials:
        stored = TrialRecord.of(trial)
        assert stored.speedup == pytest.approx(quiet[trial.number], rel=0.1)
        # The old way, against the baseline trial's own timing, is off by the load's change.
        old_way = TrialRecord.of(baseline).latency_ms / stored.latency_ms
        assert old_way != pytest.approx(quiet[trial.number], rel=0.1)


def _retimed(number: int, median: float, spread: float) -> Retimed:
    timing = Timing(median, median - spread / 2, median + spread / 2, median - spread, 8)
    return Retimed(number, median, timing, Timing(20.0, 19.5, 20.5, 19.0, 8))


def _record(error: float, size: float) -> TrialRecord:
    return TrialRecord(latency_ms=0.0, size_mib=size, errors={"mae": error})


def test_a_win_within_the_timing_spread_goes_to_the_more_accurate():
    records = {12: _record(0.40, 1.0), 30: _record(0.30, 2.0), 41: _record(0.10, 3.0)}
    tied = [_retimed(12, 11.2, 0.8), _retimed(30, 11.5, 1.0), _retimed(41, 14.0, 0.5)]
    pick = fastest_of(tied, records, "mae")
    assert pick.number == 30
    assert pick.line == (
        "trials 12 and 30 are within each other's timing spread (11.2±0.4 vs 11.5±0.5 ms); "
        "exporting 30, the more accurate"
    )
    clear = [_retimed(12, 11.2, 0.2), _retimed(30, 11.5, 0.2)]
    assert fastest_of(clear, records, "mae").number == 12
    same_error = {12: _record(0.3, 1.0), 30: _record(0.3, 2.0)}
    pick = fastest_of(tied[:2], same_error, "mae")
    assert pick.number == 12 and pick.line.endswith("exporting 12, the smaller")
