"""The search space, define-by-run: an Optuna trial in, a compression :class:`Pipeline` out.

A trial first picks which techniques to use and in which order (``order``, e.g. ``"PTQ"``),
then only the parameters of the chosen steps: a pruning ratio per layer group, a decomposition
method and a rank per layer (a fraction of its channels, or VBMF's), and the quantized layers
(those whose SQNR clears a sampled threshold, or a yes/no per layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from torch import nn

from autocompress.compression import (
    Pipeline,
    PruneStep,
    QuantizeStep,
    TensorizeStep,
    decomposable_layers,
    prunable_groups,
    quantizable_layers,
)
from autocompress.compression.quantization import quantization_backend
from autocompress.compression.tensorize import factor_names
from autocompress.search.config import SpaceConfig

__all__ = ["LayerCatalog", "PipelinePoint", "params_of", "suggest_pipeline"]

SKIP, FRACTION, VBMF = "skip", "fraction", "vbmf"


@dataclass(frozen=True)
class LayerCatalog:
    """What the uncompressed model offers each technique; computed once per study."""

    prune_groups: tuple[str, ...]
    decomposable: tuple[str, ...]
    quantizable: tuple[str, ...]
    sqnr_db: dict[str, float]  # per quantizable layer, from a fully quantized copy
    factors: dict[tuple[str, str], tuple[str, ...]]  # (layer, method) -> names after factoring
    quantize_backend: str = "fx"  # decides which layers are quantizable

    @classmethod
    def of(
        cls,
        model: nn.Module,
        space: SpaceConfig,
        sqnr_db: dict[str, float],
        quantize_backend: str = "fx",
    ) -> LayerCatalog:
        def narrowed(available: list[str], wanted: tuple[str, ...] | None, what: str):
            if wanted is None:
                return tuple(available)
            unknown = [name for name in wanted if name not in available]
            if unknown:
                raise ValueError(f"space.{what}: {unknown[0]!r} is not one of {available}")
            return wanted

        decomposable = narrowed(
            decomposable_layers(model), space.tensorize_layers, "tensorize_layers"
        )
        factors = {
            (layer, method): tuple(factor_names(layer, model.get_submodule(layer), method))
            for layer in decomposable
            for method in space.tensorize_methods
        }
        return cls(
            prune_groups=narrowed(list(prunable_groups(model)), space.prune_groups, "prune_groups"),
            decomposable=decomposable,
            quantizable=tuple(
                name
                for name in quantizable_layers(model)
                if quantization_backend(quantize_backend).can_quantize(model.get_submodule(name))
            ),
            sqnr_db=sqnr_db,
            factors=factors,
            quantize_backend=quantize_backend,
        )


def _suggest_prune(trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig) -> PruneStep:
    low, high = space.prune_ratio
    ratios = {
        group: trial.suggest_float(f"prune.{group}", low, high) for group in catalog.prune_groups
    }
    return PruneStep(ratios=ratios, round_to=space.prune_round_to)


def _suggest_tensorize(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig
) -> TensorizeStep | None:
    method = trial.suggest_categorical("tensorize.method", list(space.tensorize_methods))
    kinds = [SKIP, FRACTION, VBMF] if space.allow_vbmf else [SKIP, FRACTION]
    ranks: dict[str, float | str] = {}
    for layer in catalog.decomposable:
        kind = trial.suggest_categorical(f"tensorize.{layer}", kinds)
        if kind == FRACTION:
            ranks[layer] = trial.suggest_float(f"rank.{layer}", *space.rank_fraction)
        elif kind == VBMF:
            ranks[layer] = VBMF
    return TensorizeStep(ranks=ranks, method=method) if ranks else None


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
    order = trial.suggest_categorical("order", list(space.orders))
    steps: list[PruneStep | TensorizeStep | QuantizeStep] = []
    factored: dict[str, tuple[str, ...]] = {}
    for technique in order:
        if technique == "P":
            steps.append(_suggest_prune(trial, catalog, space))
        elif technique == "T":
            step = _suggest_tensorize(trial, catalog, space)
            if step is not None:
                steps.append(step)
                factored = {layer: catalog.factors[layer, step.method] for layer in step.ranks}
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


@dataclass(frozen=True)
class PipelinePoint:
    """A pipeline written in the space's terms, to enqueue as a trial (:func:`params_of`):
    ratios per prune group (absent: the lower bound), ranks per decomposable layer (a fraction
    or ``vbmf``; absent: skipped) and the SQNR threshold of quantization."""

    order: str
    prune: dict[str, float] | None = None
    ranks: dict[str, float | str] | None = None
    method: str = "tucker"
    sqnr_threshold_db: float = 30.0


def params_of(point: PipelinePoint, catalog: LayerCatalog, space: SpaceConfig) -> dict | None:
    """The trial parameters :func:`suggest_pipeline` turns into ``point``'s pipeline, clipped
    to the space's bounds; None when the space cannot express it (an order or method it
    leaves out)."""
    if point.order not in space.orders or (
        "T" in point.order and point.method not in space.tensorize_methods
    ):
        return None
    params: dict[str, object] = {"order": point.order}
    if "P" in point.order:
        low, high = space.prune_ratio
        ratios = point.prune or {}
        for group in catalog.prune_groups:
            params[f"prune.{group}"] = min(max(ratios.get(group, low), low), high)
    if "T" in point.order:
        params["tensorize.method"] = point.method
        ranks = point.ranks or {}
        for layer in catalog.decomposable:
            rank = ranks.get(layer)
            if rank == VBMF and space.allow_vbmf:
                params[f"tensorize.{layer}"] = VBMF
            elif isinstance(rank, float):
                low, high = space.rank_fraction
                params[f"tensorize.{layer}"] = FRACTION
                params[f"rank.{layer}"] = min(max(rank, low), high)
            else:
                params[f"tensorize.{layer}"] = SKIP
    if "Q" in point.order:
        if space.quantize_by == "sqnr":
            low, high = space.sqnr_threshold_db
            params["quantize.sqnr_threshold_db"] = min(max(point.sqnr_threshold_db, low), high)
        else:
            for layer in catalog.quantizable:
                chosen = catalog.sqnr_db.get(layer, 0.0) >= point.sqnr_threshold_db
                params[f"quantize.{layer}"] = chosen
    return params
