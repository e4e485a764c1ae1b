"""Warm start: known-good pipelines written in the space's terms replay exactly, and a study
queues them once, right after its baseline."""

from pathlib import Path

import optuna
import pytest

from autocompress.compression import PruneStep, QuantizeStep, TensorizeStep
from autocompress.models.repnet.adapter import RepNetAdapter
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.pipeline_space import (
    LayerCatalog,
    PipelinePoint,
    params_of,
    suggest_pipeline,
)
from autocompress.study.warm_start import warm_start_points


@pytest.fixture(scope="module")
def model(random_repnet_s):
    return random_repnet_s


def _catalog(model, space):
    sqnr = {name: 20.0 + i for i, name in enumerate(LayerCatalog.of(model, space, {}).quantizable)}
    return LayerCatalog.of(model, space, sqnr)


def test_a_point_replays_as_the_pipeline_it_describes(model):
    space = SpaceConfig()
    catalog = _catalog(model, space)
    group, layer = catalog.prune_groups[0], catalog.decomposable[-1]
    point = PipelinePoint("PTQ", prune={group: 0.3}, ranks={layer: 0.2}, sqnr_threshold_db=40.0)
    pipeline = suggest_pipeline(
        optuna.trial.FixedTrial(params_of(point, catalog, space)), catalog, space
    )
    prune, tensorize, quantize = pipeline.steps
    assert isinstance(prune, PruneStep) and prune.ratios[group] == 0.3
    assert set(prune.ratios.values()) == {0.3, space.prune_ratio[0]}
    assert isinstance(tensorize, TensorizeStep) and tensorize.ranks == {layer: 0.2}
    above = [n for n in catalog.quantizable if catalog.sqnr_db[n] >= 40.0]
    assert isinstance(quantize, QuantizeStep) and len(quantize.layers) >= len(above) > 0


def test_points_are_clipped_to_the_space_or_left_out(model):
    space = SpaceConfig(orders=("P",), prune_ratio=(0.1, 0.2))
    catalog = _catalog(model, space)
    params = params_of(
        PipelinePoint("P", prune=dict.fromkeys(catalog.prune_groups, 0.6)), catalog, space
    )
    assert params["prune.ratio"] == 0.2 and params["prune.taper"] == 0.0
    assert params_of(PipelinePoint("T", ranks={}), catalog, space) is None


def test_the_warm_start_points_all_replay_on_repnet(model):
    space = SpaceConfig()
    catalog = _catalog(model, space)
    recipe = RepNetAdapter("repnet-s", None, Path("unused")).recipe(model)
    points = warm_start_points(model, catalog, recipe)
    assert [p.order for p in points] == ["Q", "PQ", "P", "P", "PQ", "T", "PT", "PTQ"]
    for point in points:
        trial = optuna.trial.FixedTrial(params_of(point, catalog, space))
        assert suggest_pipeline(trial, catalog, space).steps
