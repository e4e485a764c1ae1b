"""The selection/test split, the photo content of generated videos, and front points counted
on a test set the search never sees."""

from __future__ import annotations

import dataclasses

import numpy as np
import optuna
import pytest
import torch
from scipy import stats
from torch import nn

import autocompress
from autocompress.data.split import split_names
from autocompress.data.synthetic import SynthStyle, generate_dataset, make_training_clip
from autocompress.data.synthetic.photos import PHOTOS
from autocompress.models.repnet.adapter import RepNetAdapter
from autocompress.study.config import DataConfig, StudyConfig
from autocompress.study.context import build_context
from autocompress.study.pareto import paired_cell, paired_difference
from autocompress.study.test_set import score_test_set

TINY = SynthStyle(size=(48, 32), fps=10, frames=(24, 48), periods=(3.0, 8.0))


def test_the_split_is_disjoint_and_keeps_every_item_on_its_side_when_items_are_added():
    names = [f"video{i}" for i in range(200)]
    selection, test = split_names(names, 0.5)
    assert not set(selection) & set(test) and set(selection) | set(test) == set(names)
    assert 60 < len(test) < 140
    grown = split_names([*names, *(f"new{i}" for i in range(50))], 0.5)
    assert [n for n in grown[1] if n in names] == test
    assert split_names(names, 0.5) == (selection, test)  # no state, no randomness


def test_photo_backgrounds_are_deterministic_from_the_seed(tmp_path):
    photos = dataclasses.replace(TINY, photo_share=1.0)
    written = [generate_dataset(tmp_path / d, 2, seed=5, style=photos) for d in "ab"]
    assert written[0] == written[1]
    assert all(video.backdrop in PHOTOS for video in written[0])
    for video in written[0]:
        a, b = (tmp_path / d / "videos" / f"{video.name}.mp4" for d in "ab")
        assert a.read_bytes() == b.read_bytes()
    flat = generate_dataset(
        tmp_path / "flat", 2, seed=5, style=dataclasses.replace(TINY, photo_share=0.0)
    )
    assert {video.backdrop for video in flat} == {"flat"}


def test_training_clips_get_photo_backgrounds_too():
    photos = dataclasses.replace(TINY, photo_share=1.0)
    clips = [make_training_clip(np.random.default_rng(3), 16, 32, 1.0, photos) for _ in "ab"]
    assert np.array_equal(clips[0].frames, clips[1].frames)
    flat = make_training_clip(
        np.random.default_rng(3), 16, 32, 1.0, dataclasses.replace(TINY, photo_share=0.0)
    )
    assert not np.array_equal(clips[0].frames, flat.frames)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("six")
    generate_dataset(root, 6, seed=11, style=TINY)
    return root


def test_a_folder_splits_into_selection_and_test_videos(folder, tmp_path):
    adapter = RepNetAdapter("repnet-s", None, tmp_path, videos=str(folder), test_share=0.5)
    selection = {item.name for item in adapter.task().dataset}
    test = {item.name for item in adapter.test_task().dataset}
    every = {path.stem for path in (folder / "videos").iterdir()}
    assert selection and test and not selection & test and selection | test == every
    # Calibration clips come from the selection videos only.
    assert len(adapter.calibration(len(every))) == len(selection)
    whole = RepNetAdapter("repnet-s", None, tmp_path, videos=str(folder))
    assert whole.test_task() is None and len(whole.task().dataset) == len(every)


def test_a_study_scores_only_its_selection_videos(folder, tmp_path):
    config = StudyConfig(data=DataConfig(path=str(folder), calibration_clips=1))
    context = build_context(config, tmp_path, optuna.create_study())
    searched = {item.name for item in context.evaluator.task.dataset}
    held_out = {item.name for item in context.test_task().dataset}
    assert searched and held_out and not searched & held_out


def test_synthetic_test_videos_come_from_another_seed_and_look(tmp_path):
    adapter = RepNetAdapter(
        "repnet-s", None, tmp_path, synthetic_videos=1, test_videos=1, test_seed=2000
    )
    selection, test = adapter.dataset, adapter.test_dataset()
    assert selection.root != test.root and "seed2000" in test.root.name
    assert len(test) == 1


class Items:
    """A task over fixed per-item errors that remembers which items it was handed."""

    def __init__(self, errors: list[float]):
        self.errors = np.asarray(errors, dtype=np.float64)[:, None]
        self.handed: list[tuple[int, int]] = []
        self.objectives = ("error",)

    def item_count(self) -> int:
        return len(self.errors)

    def item_errors(self, model: nn.Module, start: int, stop: int) -> np.ndarray:
        self.handed.append((start, stop))
        return self.errors[start:stop]


def test_a_test_score_is_the_mean_with_a_student_t_interval():
    scores = score_test_set(Items([0.0, 1.0, 0.0, 1.0]), nn.Identity())
    half = stats.t.ppf(0.975, 3) * np.std([0, 1, 0, 1], ddof=1) / 2
    assert scores.pop("item_errors") == [[0.0], [1.0], [0.0], [1.0]]
    assert scores == {"items": 4, "errors": {"error": 0.5}, "ci95": {"error": pytest.approx(half)}}
    assert score_test_set(Items([0.3]), nn.Identity())["ci95"] == {"error": None}


def test_the_python_api_counts_the_front_on_its_test_task_only_afterwards(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    selection, test = Items([0.1, 0.2, 0.3]), Items([0.4, 0.5, 0.6, 0.7])
    result = autocompress.search(
        model,
        torch.randn(1, 8),
        evaluate=selection,
        test_evaluate=test,
        trials=4,  # the warm start's uniform pruning (trial 3) is smaller: on the front
        run_dir=tmp_path,
        settings={"sampler": "random", "latency": {"warmup": 1, "runs": 2}},
        progress=False,
    )
    assert selection.handed and not test.handed  # the search never counts a test item
    table = autocompress.pareto(result, test=True)
    assert test.handed and all(span == (0, 4) for span in test.handed)
    assert all(row.test["errors"] == {"error": pytest.approx(0.55)} for row in table.rows)
    shown = str(table)
    assert "test error" in shown and "0.550±" in shown and "4 held-out items" in shown
    assert "paired error" in shown and "+0.000±0.000" in shown  # the items score any model alike
    exported = autocompress.export(result, "fastest", tmp_path / "out")
    assert "test error" in str(exported) and exported.test["items"] == 4
    assert "paired +0.000±0.000" in str(exported)


def _scores(per_item: list[float]) -> dict:
    return {"items": len(per_item), "errors": {"mae": sum(per_item) / len(per_item)},
            "item_errors": [[e] for e in per_item]}  # fmt: skip


def test_the_paired_difference_cancels_what_the_items_share():
    hardness = [0.05, 0.9, 0.3, 0.6, 0.1, 0.75, 0.2, 0.45]  # a hard video is hard for both
    compressed = [h + 0.05 + 0.01 * (-1) ** i for i, h in enumerate(hardness)]
    mean, half = paired_difference(_scores(compressed), _scores(hardness), "mae")
    assert mean == pytest.approx(0.05) and half < 0.02  # each model's own interval is ~0.25
    assert paired_cell(_scores(compressed), _scores(hardness), "mae").startswith("+0.050±0.0")
    old = {"items": 8, "errors": {"mae": 0.4}}  # scored before per-item errors were kept
    assert paired_difference(old, _scores(hardness), "mae") is None
    assert paired_cell(old, _scores(hardness), "mae") == "-"
