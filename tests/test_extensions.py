"""Each kind of extension is one new file that registers itself (tests/plugins/): a technique,
a model family and an artifact format, each used through the unchanged package."""

from __future__ import annotations

import optuna
import pytest
import torch

from autocompress.backends import ARTIFACT_FORMATS, load_artifact
from autocompress.compression import Pipeline, apply_pipeline, technique_of
from autocompress.errors import UserError
from autocompress.spaces.catalog import LayerCatalog
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.pipeline_space import suggest_pipeline
from autocompress.study.config import LatencyConfig, StudyConfig
from autocompress.study.context import build_context
from autocompress.study.export import export_trial
from autocompress.study.runner import run_search
from tests.plugins import pickle_format, sparsify, tiny_family

QUICK = LatencyConfig(warmup=1, runs=3)


def _study(**overrides) -> StudyConfig:
    values = dict(
        name="plugin",
        preset="tiny-mlp",
        trials=4,
        sampler="random",
        warm_start=False,
        latency=QUICK,
        space=SpaceConfig(orders=("P", "S", "PS")),
        max_error_increase={},  # the plug-ins are checked, not the tiny MLP's accuracy
    )
    return StudyConfig(**{**values, **overrides})


def _inputs() -> torch.Tensor:
    return tiny_family.TinyAdapter().calibration(8)


def test_a_technique_registered_in_its_own_file_is_sampled_checked_and_applied():
    model = tiny_family.TinyAdapter().model
    space = SpaceConfig(orders=("S", "PS"))
    catalog = LayerCatalog.of(model, space, {})
    params = {"order": "PS", "prune.per_group": False, "prune.ratio": 0.25}
    trial = optuna.trial.FixedTrial({**params, "prune.taper": 0.0, "sparsify.amount": 0.5})
    pipeline = suggest_pipeline(trial, catalog, space)
    _, sparse = pipeline.steps
    assert technique_of(sparse).kind == "sparsify" and sparse.layers == ["0", "2"]
    assert Pipeline.from_dict(pipeline.to_dict()) == pipeline  # its YAML key is its kind
    compressed, _ = apply_pipeline(model, pipeline, _inputs())
    weight = compressed.get_submodule("0").weight
    assert (weight == 0).float().mean().item() == pytest.approx(0.5, abs=0.05)
    with pytest.raises(UserError, match="unknown layer"):
        Pipeline([sparsify.SparsifyStep(["nope"])]).validate(model)


def test_a_model_family_registered_in_its_own_file_is_a_preset_a_study_searches(tmp_path):
    study = run_search(_study(), None, tmp_path, progress=False).study
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    assert all("disagreement" in t.user_attrs for t in complete)
    assert complete[0].user_attrs["disagreement"] == 0.0  # the baseline agrees with itself


def test_an_artifact_format_registered_in_its_own_file_is_timed_exported_and_loaded(tmp_path):
    assert pickle_format.PickledModule.name in ARTIFACT_FORMATS
    config = _study(artifact="pickled-module", trials=2, space=SpaceConfig(orders=("P",)))
    study = run_search(config, None, tmp_path / "runs", progress=False).study
    context = build_context(config, tmp_path / "runs", study)
    result = export_trial(study, 1, context, tmp_path / "out")
    (path,) = [p for p in result.artifacts.values() if p.suffix == ".pkl"]
    loaded = load_artifact(path)
    assert loaded(_inputs()).shape == (8, 4)
