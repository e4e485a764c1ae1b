"""The search space, define-by-run: an Optuna trial in, a compression :class:`Pipeline` out.

A trial first picks which techniques to use and in which order (``order``, e.g. ``"PTQ"``:
one letter per registered technique), then only the parameters of the chosen steps, in the
space's layout (``compact``: a few intensities with per-layer choices one step away;
``per_layer``: every group and layer its own dimension): pruning ratios, decomposition method
and ranks, the quantized layers (those whose SQNR clears a sampled threshold, or a yes/no per
layer), how many residual blocks to drop.
"""

from __future__ import annotations

import optuna

from autocompress.compression import Pipeline
from autocompress.compression.registry import technique_lettered
from autocompress.spaces.catalog import LayerCatalog, PipelinePoint
from autocompress.spaces.steps import LAYOUTS, SpaceState
from autocompress.study.config import SpaceConfig

__all__ = ["LAYOUTS", "LayerCatalog", "PipelinePoint", "params_of", "suggest_pipeline"]


def suggest_pipeline(trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig) -> Pipeline:
    """Sample one pipeline: each letter of the order is a technique (the registry), which
    samples its step; steps that end up selecting nothing are left out."""
    order = trial.suggest_categorical("order", list(space.orders))
    state = SpaceState()
    steps = []
    for letter in order:
        technique = technique_lettered(letter)
        if technique is None or technique.suggest is None:
            raise ValueError(f"order {order!r}: no technique samples letter {letter!r}")
        step = technique.suggest(trial, catalog, space, state)
        if step is not None:
            steps.append(step)
    return Pipeline(steps=steps)


def params_of(point: PipelinePoint, catalog: LayerCatalog, space: SpaceConfig) -> dict | None:
    """The trial parameters :func:`suggest_pipeline` turns into ``point``'s pipeline, clipped
    to the space's bounds; None when the space cannot express it (an order or method it
    leaves out, a technique a point does not describe)."""
    if (
        set(point.order) - set("PTQ")
        or point.order not in space.orders
        or ("T" in point.order and point.method not in space.tensorize_methods)
    ):
        return None
    layout = LAYOUTS[space.layout]
    params: dict[str, object] = {"order": point.order}
    if "P" in point.order:
        params.update(layout.prune_params(point.prune or {}, catalog, space))
    if "T" in point.order:
        params["tensorize.method"] = point.method
        params.update(layout.rank_params(point.ranks or {}, catalog, space))
    if "Q" in point.order:
        if space.quantize_by == "sqnr":
            low, high = space.sqnr_threshold_db
            params["quantize.sqnr_threshold_db"] = min(max(point.sqnr_threshold_db, low), high)
        else:
            for layer in catalog.quantizable:
                chosen = catalog.sqnr_db.get(layer, 0.0) >= point.sqnr_threshold_db
                params[f"quantize.{layer}"] = chosen
    return params
