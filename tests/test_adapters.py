"""The model adapter contract, kept by both shipped adapters, and the boundary it draws:
the generic packages never import RepNet."""

import importlib
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from autocompress.analysis.profile import profile_model
from autocompress.compression import Pipeline, PruneStep, apply_pipeline, prunable_groups
from autocompress.evaluators.task import Task, evaluate_task
from autocompress.models.adapter import ModelAdapter
from autocompress.models.digits.adapter import DigitsAdapter
from autocompress.models.repnet.adapter import RepNetAdapter
from autocompress.study.config import DataConfig, StudyConfig
from autocompress.study.context import build_context

PACKAGE = Path(__file__).resolve().parents[1] / "autocompress"
# What a generic module may import from autocompress.models: the contract and the registry.


# The steps of each shipped adapter's hand-tuned recipe; None: it has none.
RECIPE_STEPS = {"repnet": ("prune", "tensorize"), "digits": None}


@pytest.fixture(params=sorted(RECIPE_STEPS))
def family(request) -> str:
    return request.param


@pytest.fixture()
def adapter(family, tiny_set, tmp_path) -> ModelAdapter:
    if family == "repnet":
        return RepNetAdapter("repnet-s", None, tmp_path, videos=str(tiny_set))
    return DigitsAdapter(subset=60)


def _size(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_an_adapter_builds_a_model_that_runs_on_its_own_inputs(adapter):
    assert isinstance(adapter, ModelAdapter)
    model, source = adapter.load()
    assert isinstance(model, nn.Module) and not model.training and source
    calibration = adapter.calibration(2)
    example = adapter.example_inputs(3)
    assert len(calibration) == 2 and len(example) == 3
    assert calibration.shape[1:] == example.shape[1:]
    with torch.no_grad():
        model(calibration)
        model(example)
    assert prunable_groups(model)  # its structure offers the pruner something


def test_an_adapter_task_scores_items_one_column_per_objective(adapter):
    model, _ = adapter.load()
    task = adapter.task()
    assert isinstance(task, Task) and tuple(task.objectives) == adapter.objectives
    total = task.item_count()
    first = task.item_errors(model, 0, 1)
    assert first.shape == (1, len(task.objectives)) and np.isfinite(first).all()
    report = evaluate_task(task, model)
    assert report.items == total and report.errors[:1].tolist() == first.tolist()
    assert report.values == {
        name: pytest.approx(report.errors[:, i].mean()) for i, name in enumerate(task.objectives)
    }


def test_an_adapter_names_parts_a_profile_can_time(adapter):
    model, _ = adapter.load()
    profile = profile_model(model, adapter.example_inputs(1), adapter.profile_parts())
    assert sum(p.parameters for p in profile.parts) == sum(p.numel() for p in model.parameters())


def test_an_adapter_offers_its_recipe_or_none_and_generic_pruning_shrinks_its_model(
    adapter, family
):
    model, _ = adapter.load()
    recipe = adapter.recipe(model)
    if RECIPE_STEPS[family] is None:
        assert recipe is None
    else:
        assert isinstance(recipe, Pipeline)
        assert tuple(step.kind for step in recipe.steps) == RECIPE_STEPS[family]
    # What every adapter offers the search: groups a generic prune step (the warm start's
    # uniform pruning) shrinks; and its recipe, where it has one, shrinks the model too.
    uniform = Pipeline([PruneStep(dict.fromkeys(prunable_groups(model), 0.3))])
    for pipeline in [uniform] + ([recipe] if recipe is not None else []):
        compressed, reports = apply_pipeline(model, pipeline, adapter.calibration(1))
        assert len(reports) == len(pipeline.steps)
        assert _size(compressed) < _size(model), pipeline
        with torch.no_grad():
            compressed(adapter.example_inputs(1))  # still runs on its inputs


def test_a_study_of_each_preset_builds_its_adapter(tiny_set, tmp_path):
    repnet = StudyConfig(data=DataConfig(path=str(tiny_set), calibration_clips=1, test_share=None))
    digits = StudyConfig(preset="digits", data=DataConfig(calibration_clips=4))
    for config, objectives in ((repnet, ("fidelity",)), (digits, ("top1_error",))):
        context = build_context(config, tmp_path, optuna.create_study())
        assert context.config.objectives == ("latency", "size", *objectives)
        assert context.evaluator.task is not None


@pytest.mark.parametrize(
    "package",
    ["autocompress", "autocompress.models", "autocompress.study", "autocompress.compression"],
)
def test_every_public_name_of_a_package_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__
    for name in module.__all__:
        assert getattr(module, name) is not None, name
