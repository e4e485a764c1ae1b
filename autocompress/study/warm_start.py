"""Warm start: after the baseline, a new study runs a few pipelines known to do well on most
models (int8 alone, uniform pruning at a few ratios, with and without int8, the largest layer
factorised), and
the model's own hand-tuned recipe if its adapter has one (RepNet: the case study's), so the
sampler starts from feasible ground rather than from a random draw over a hundred dimensions.
They are ordinary trials with enqueued parameters, queued once per study by the worker that
created it, never again on resume.
"""

from __future__ import annotations

import optuna
from torch import nn

from autocompress.compression import Pipeline, PruneStep, TensorizeStep
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.pipeline_space import LayerCatalog, PipelinePoint, params_of
from autocompress.study.record import enqueue

__all__ = ["queue_warm_start", "warm_start_points"]


def warm_start_points(
    model: nn.Module, catalog: LayerCatalog, recipe: Pipeline | None = None
) -> list[PipelinePoint]:
    def uniform(ratio: float) -> dict[str, float]:
        return dict.fromkeys(catalog.prune_groups, ratio)

    points = [
        # int8 alone, on every layer whose SQNR reaches 15 dB (most of a trained model's): the
        # cheapest speed-up, nearly always within the caps; and with a light pruning.
        PipelinePoint("Q", sqnr_threshold_db=15.0),
        PipelinePoint("PQ", prune=uniform(0.1), sqnr_threshold_db=20.0),
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
    if recipe is not None:
        points.append(_point_of(recipe))
    return points


def _point_of(recipe: Pipeline) -> PipelinePoint:
    """A recipe of prune and tensorize steps as a point, quantized by the space's SQNR rule."""
    prune = next((s for s in recipe.steps if isinstance(s, PruneStep)), None)
    tensorize = next((s for s in recipe.steps if isinstance(s, TensorizeStep)), None)
    order = "".join("P" if isinstance(s, PruneStep) else "T" for s in (prune, tensorize) if s)
    return PipelinePoint(
        order + "Q",
        prune=prune.ratios if prune else None,
        ranks=dict(tensorize.ranks) if tensorize else None,
        method=tensorize.method if tensorize else "tucker",
    )


def queue_warm_start(
    study: optuna.Study,
    model: nn.Module,
    catalog: LayerCatalog,
    space: SpaceConfig,
    recipe: Pipeline | None = None,
) -> int:
    """Enqueue the warm-start points the space can express; returns how many."""
    queued: list[dict] = []
    for point in warm_start_points(model, catalog, recipe):
        params = params_of(point, catalog, space)
        if params is not None and params not in queued:
            enqueue(study, params, warm_start=True)
            queued.append(params)
    return len(queued)
