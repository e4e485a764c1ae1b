"""Both layouts of the search space: what a point replays as, and how many dimensions a
sampler sees."""

import optuna
import pytest

from autocompress.compression import PruneStep, TensorizeStep
from autocompress.compression.prune.space import tapered
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.pipeline_space import (
    LayerCatalog,
    PipelinePoint,
    params_of,
    suggest_pipeline,
)


def _replayed(point, model, space):
    catalog = LayerCatalog.of(model, space, {})
    params = params_of(point, catalog, space)
    return params, suggest_pipeline(optuna.trial.FixedTrial(params), catalog, space), catalog


@pytest.mark.parametrize("layout", ["compact", "per_layer"])
def test_any_per_group_and_per_layer_choice_replays_in_both_layouts(random_repnet_s, layout):
    space = SpaceConfig(layout=layout)
    groups = LayerCatalog.of(random_repnet_s, space, {}).prune_groups
    ranks = {"encoder.stem.conv": 0.3, "temporal_conv.conv": "vbmf"}
    prune = {groups[0]: 0.5, groups[-1]: 0.1}
    _, pipeline, _ = _replayed(
        PipelinePoint("PT", prune=prune, ranks=ranks), random_repnet_s, space
    )
    prune_step, tensorize_step = pipeline.steps
    assert prune_step.ratios == {group: prune.get(group, 0.0) for group in groups}
    assert tensorize_step.ranks == ranks


def test_compact_layout_writes_uniform_choices_in_a_few_dimensions(random_repnet_s):
    space = SpaceConfig()
    catalog = LayerCatalog.of(random_repnet_s, space, {})
    largest = dict.fromkeys(catalog.largest_first[:3], 0.1)
    point = PipelinePoint("PT", prune=dict.fromkeys(catalog.prune_groups, 0.4), ranks=largest)
    params, pipeline, _ = _replayed(point, random_repnet_s, space)
    assert len(params) == 9  # order, 3 for pruning, method + 4 for factorisation
    prune_step, tensorize_step = pipeline.steps
    assert set(prune_step.ratios.values()) == {0.4} and tensorize_step.ranks == largest


def test_largest_first_orders_the_decomposable_layers_by_parameters(random_repnet_s):
    catalog = LayerCatalog.of(random_repnet_s, SpaceConfig(), {})
    sizes = [
        sum(p.numel() for p in random_repnet_s.get_submodule(name).parameters())
        for name in catalog.largest_first
    ]
    assert sizes == sorted(sizes, reverse=True)
    assert set(catalog.largest_first) == set(catalog.decomposable)


def test_taper_shifts_pruning_between_the_ends_within_bounds():
    assert tapered(0.4, 0.0, 3, (0.0, 0.7)) == [0.4, 0.4, 0.4]
    assert tapered(0.4, 1.0, 3, (0.0, 0.7)) == [0.0, 0.4, 0.7]  # 0.8 clipped to 0.7
    assert tapered(0.4, -0.5, 3, (0.0, 0.7)) == pytest.approx([0.6, 0.4, 0.2])
    assert tapered(0.3, 1.0, 1, (0.0, 0.7)) == [0.3]


def test_a_sampled_compact_trial_has_a_handful_of_parameters(random_repnet_s):
    space = SpaceConfig()
    catalog = LayerCatalog.of(random_repnet_s, space, {})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    sizes = []
    for _ in range(40):
        trial = study.ask()
        pipeline = suggest_pipeline(trial, catalog, space)
        study.tell(trial, 0.0)
        if not any(trial.params.get(flag) for flag in ("prune.per_group", "tensorize.per_layer")):
            sizes.append(len(trial.params))
            assert all(isinstance(s, PruneStep | TensorizeStep) or s.layers for s in pipeline.steps)
    assert sizes and max(sizes) <= 10
