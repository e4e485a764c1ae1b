"""The task first on a few items: the estimate that decides, the whole set when a trial goes
on, and a trial screened out never on the front or exported."""

import numpy as np
import optuna
import pytest
import torch

from autocompress.errors import UserError
from autocompress.evaluators.task import TaskReport
from autocompress.models.repnet.adapter import CountingTask
from autocompress.models.repnet.quva_accuracy import evaluate_counts, mae_obo, video_errors
from autocompress.spaces.config import SpaceConfig
from autocompress.study import objective as runner
from autocompress.study.config import DataConfig, LatencyConfig, StudyConfig
from autocompress.study.context import build_context
from autocompress.study.export import export_trial
from autocompress.study.pareto import feasible_front
from autocompress.study.runner import run_search
from autocompress.study.screening import could_reach_front, optimistic_errors


def _report(errors: list[int], true: int = 10) -> TaskReport:
    """Counts off by ``errors`` from ``true``, as the counting task scores them."""
    relative, off_by_more = video_errors([true] * len(errors), [true + e for e in errors])
    counting = CountingTask(dataset=None, image_size=112)  # no reference: MAE and OBO only
    return TaskReport.of(counting, np.stack([relative, off_by_more], axis=1))


def test_the_estimate_is_exact_once_every_video_is_counted():
    estimate = optimistic_errors(_report([0, 3, -2, 5]), 4)
    expected = mae_obo([10] * 4, [10, 13, 8, 15])
    assert (estimate["mae"], estimate["obo"]) == pytest.approx(expected)


def test_the_estimate_is_optimistic_but_never_below_what_is_already_counted():
    counts = _report([4, 6, 5])
    estimate = optimistic_errors(counts, 12)
    mae, obo = estimate["mae"], estimate["obo"]
    assert mae < 0.5 and obo <= 1.0  # the counted mean is 0.5 and every video misses
    assert mae >= 1.5 / 12 and obo >= 3 / 12
    with pytest.raises(ValueError):
        optimistic_errors(counts, 2)


def test_a_point_at_least_as_good_everywhere_stops_a_trial():
    objectives = ("latency", "mae")
    front = [{"latency": 10.0, "mae": 0.2}, {"latency": 5.0, "mae": 0.5}]
    assert not could_reach_front({"latency": 12.0, "mae": 0.3}, front, objectives)
    assert could_reach_front({"latency": 7.0, "mae": 0.3}, front, objectives)
    assert could_reach_front({"latency": 1.0, "mae": 0.9}, [], objectives)


@pytest.fixture()
def config(tiny_set):
    return StudyConfig(
        name="screen",
        trials=3,
        sampler="random",
        data=DataConfig(path=str(tiny_set), calibration_clips=1, screen_videos=1, test_share=None),
        latency=LatencyConfig(warmup=1, runs=2),
        space=SpaceConfig(orders=("P",), prune_ratio=(0.1, 0.5)),
    )


def test_counting_on_after_the_first_videos_gives_the_full_evaluation(config, tmp_path):
    context = build_context(config, tmp_path, optuna.create_study())
    torch.manual_seed(0)
    report, complete = context.evaluator.accuracy(context.model, lambda counts, total: True)
    full = evaluate_counts(context.model, context.evaluator.task.dataset, progress=False)
    assert complete and report.items == 3
    assert (report.values["mae"], report.values["obo"]) == (full.mae, full.obo)
    partial, complete = context.evaluator.accuracy(context.model, lambda counts, total: False)
    assert not complete and partial.items == 1
    assert partial.errors.tolist() == report.errors[:1].tolist()
    # Each round of items is screened again: one that passes the first can stop at the next.
    seen = []
    second, complete = context.evaluator.accuracy(
        context.model, lambda counts, total: seen.append(counts.items) or len(seen) < 2
    )
    assert not complete and seen == [1, 2] and second.items == 2
    assert second.errors.tolist() == report.errors[:2].tolist()


def test_a_screened_out_trial_is_infeasible_never_on_the_front_nor_exported(
    config, tmp_path, monkeypatch
):
    monkeypatch.setattr(runner, "front_screen", lambda study, objectives: lambda *args: False)
    study = run_search(config, None, tmp_path, progress=False).study
    baseline, *screened = study.trials
    assert baseline.user_attrs["mae"] is not None and "screened" not in baseline.user_attrs
    assert screened and all(t.state.name == "COMPLETE" for t in screened)
    for trial in screened:
        assert trial.user_attrs["mae"] is None and trial.user_attrs["screened"]["items"] == 1
        assert trial.constraints["screened_out"] > 0
    assert [t.number for t in feasible_front(study)] == [0]
    context = build_context(config, tmp_path, study)
    with pytest.raises(UserError, match="screened out after its first 1 items"):
        export_trial(study, screened[0].number, context, tmp_path / "out")
