"""Warm start: after the baseline, a new study runs a few pipelines known to do well on most
models (uniform pruning at a few ratios, pruning with int8, the largest layer factorised, the
case study's recipe), so the sampler starts from feasible ground rather than from a random
draw over a hundred dimensions. They are ordinary trials with enqueued parameters, queued once
per study by the worker that created it, never again on resume.
"""

from __future__ import annotations

import optuna
from torch import nn

from autocompress.compression import PipelineError
from autocompress.compression.recipes import CaseStudyRecipe
from autocompress.search.config import SpaceConfig
from autocompress.spaces.pipeline_space import LayerCatalog, PipelinePoint, params_of

__all__ = ["queue_warm_start", "warm_start_points"]


def warm_start_points(model: nn.Module, catalog: LayerCatalog) -> list[PipelinePoint]:
    def uniform(ratio: float) -> dict[str, float]:
        return dict.fromkeys(catalog.prune_groups, ratio)

    points = [
        PipelinePoint("P", prune=uniform(0.25)),
        PipelinePoint("P", prune=uniform(0.4)),
        PipelinePoint("PQ", prune=uniform(0.3)),
    ]
    if catalog.decomposable:
        largest = max(
            catalog.decomposable,
            key=lambda name: sum(p.numel() for p in model.get_submodule(name).parameters()),
        )
        points += [
            PipelinePoint("T", ranks={largest: 0.1}),
            PipelinePoint("PT", prune=uniform(0.35), ranks={largest: 0.1}),
        ]
    recipe = CaseStudyRecipe()
    try:
        ranks = recipe.tensorize(model).ranks
    except PipelineError:  # a model without layers the recipe factorises
        return points
    points.append(PipelinePoint("PTQ", prune=recipe.prune(model).ratios, ranks=dict(ranks)))
    return points


def queue_warm_start(
    study: optuna.Study, model: nn.Module, catalog: LayerCatalog, space: SpaceConfig
) -> int:
    """Enqueue the warm-start points the space can express; returns how many."""
    queued: list[dict] = []
    for point in warm_start_points(model, catalog):
        params = params_of(point, catalog, space)
        if params is not None and params not in queued:
            study.enqueue_trial(params, user_attrs={"warm_start": True})
            queued.append(params)
    return len(queued)
