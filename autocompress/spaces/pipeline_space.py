"""The search space, define-by-run: an Optuna trial in, a compression :class:`Pipeline` out.

A trial first picks which techniques to use and in which order (``order``, e.g. ``"PTQ"``),
then only the parameters of the chosen steps, in the space's layout (``compact``: a few
intensities with per-layer choices one step away; ``per_layer``: every group and layer its own
dimension): pruning ratios, decomposition method and ranks, and the quantized layers (those
whose SQNR clears a sampled threshold, or a yes/no per layer).
"""

from __future__ import annotations

from types import ModuleType

import optuna

from autocompress.compression import Pipeline, PruneStep, QuantizeStep, TensorizeStep
from autocompress.spaces import compact, per_layer
from autocompress.spaces.catalog import LayerCatalog, PipelinePoint
from autocompress.study.config import SpaceConfig

__all__ = ["LAYOUTS", "LayerCatalog", "PipelinePoint", "params_of", "suggest_pipeline"]

# One module per name of ``SpaceConfig.layout``, each with the same four functions.
LAYOUTS: dict[str, ModuleType] = {"compact": compact, "per_layer": per_layer}


def _suggest_quantized_layers(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig
) -> list[str]:
    if space.quantize_by == "sqnr":
        threshold = trial.suggest_float("quantize.sqnr_threshold_db", *space.sqnr_threshold_db)
        return [
            layer for layer in catalog.quantizable if catalog.sqnr_db.get(layer, 0.0) >= threshold
        ]
    return [
        layer
        for layer in catalog.quantizable
        if trial.suggest_categorical(f"quantize.{layer}", [True, False])
    ]


def suggest_pipeline(trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig) -> Pipeline:
    """Sample one pipeline; steps that end up selecting nothing are left out."""
    layout = LAYOUTS[space.layout]
    order = trial.suggest_categorical("order", list(space.orders))
    steps: list[PruneStep | TensorizeStep | QuantizeStep] = []
    factored: dict[str, tuple[str, ...]] = {}
    for technique in order:
        if technique == "P":
            ratios = layout.suggest_ratios(trial, catalog, space)
            steps.append(PruneStep(ratios=ratios, round_to=space.prune_round_to))
        elif technique == "T":
            method = trial.suggest_categorical("tensorize.method", list(space.tensorize_methods))
            ranks = layout.suggest_ranks(trial, catalog, space)
            if ranks:
                steps.append(TensorizeStep(ranks=ranks, method=method))
                factored = {layer: catalog.factors[layer, method] for layer in ranks}
        else:
            # A factorised layer is quantized as its factors, under their new names.
            layers = [
                name
                for layer in _suggest_quantized_layers(trial, catalog, space)
                for name in factored.get(layer, (layer,))
            ]
            if layers:
                steps.append(QuantizeStep(layers=layers, backend=catalog.quantize_backend))
    return Pipeline(steps=steps)


def params_of(point: PipelinePoint, catalog: LayerCatalog, space: SpaceConfig) -> dict | None:
    """The trial parameters :func:`suggest_pipeline` turns into ``point``'s pipeline, clipped
    to the space's bounds; None when the space cannot express it (an order or method it
    leaves out)."""
    if point.order not in space.orders or (
        "T" in point.order and point.method not in space.tensorize_methods
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
