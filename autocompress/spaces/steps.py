"""The built-in techniques' parts of the search space, in the study's layout: a trial and what
the steps sampled before left (:class:`SpaceState`) in, a step (or None) out. Their technique
modules register them (autocompress.compression.registry)."""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna

from autocompress.compression import PruneStep, QuantizeStep, TensorizeStep
from autocompress.spaces import compact, per_layer
from autocompress.spaces.catalog import LayerCatalog
from autocompress.study.config import SpaceConfig

__all__ = ["LAYOUTS", "SpaceState", "suggest_prune", "suggest_quantize", "suggest_tensorize"]

# One module per name of ``SpaceConfig.layout``, each with the same four functions.
LAYOUTS = {"compact": compact, "per_layer": per_layer}


@dataclass
class SpaceState:
    """Names as the steps sampled so far leave them: factorised layers under their factors'
    names, dropped blocks and everything in them gone."""

    factored: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def drop(self, blocks: list[str]) -> None:
        self.dropped.extend(blocks)

    def present(self, name: str) -> bool:
        return not any(name == block or name.startswith(block + ".") for block in self.dropped)


def suggest_prune(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig, state: SpaceState
) -> PruneStep | None:
    ratios = LAYOUTS[space.layout].suggest_ratios(trial, catalog, space)
    ratios = {group: ratio for group, ratio in ratios.items() if state.present(group)}
    return PruneStep(ratios=ratios, round_to=space.prune_round_to) if ratios else None


def suggest_tensorize(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig, state: SpaceState
) -> TensorizeStep | None:
    method = trial.suggest_categorical("tensorize.method", list(space.tensorize_methods))
    ranks = LAYOUTS[space.layout].suggest_ranks(trial, catalog, space)
    ranks = {layer: rank for layer, rank in ranks.items() if state.present(layer)}
    if not ranks:
        return None
    state.factored = {layer: catalog.factors[layer, method] for layer in ranks}
    return TensorizeStep(ranks=ranks, method=method)


def _quantized_layers(trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig) -> list[str]:
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


def suggest_quantize(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig, state: SpaceState
) -> QuantizeStep | None:
    # A factorised layer is quantized as its factors, under their new names.
    layers = [
        name
        for layer in _quantized_layers(trial, catalog, space)
        if state.present(layer)
        for name in state.factored.get(layer, (layer,))
    ]
    return QuantizeStep(layers=layers, backend=catalog.quantize_backend) if layers else None
