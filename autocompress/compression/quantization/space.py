"""Quantization's part of the search space: which layers go int8.

``quantize_by: sqnr`` samples one threshold over the study's SQNR ranking (every layer whose
int8 output stays that close to the float one); ``layer`` a yes/no per quantizable layer.
"""

from __future__ import annotations

import optuna

from autocompress.compression.quantization.backend import quantization_backend
from autocompress.compression.quantization.step import QuantizeStep

__all__ = ["point_params", "step_for", "suggest"]


def _chosen_layers(trial: optuna.Trial, catalog, space) -> list[str]:
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


def suggest(trial: optuna.Trial, catalog, space, state) -> QuantizeStep | None:
    """The chosen layers that the steps before left, a factorised one as its factors, in the
    first mode of the study's backend."""
    layers = [
        name
        for layer in _chosen_layers(trial, catalog, space)
        if state.present(layer)
        for name in state.factored.get(layer, (layer,))
    ]
    return step_for(layers, catalog.quantize_backend) if layers else None


def step_for(layers: list[str], backend: str) -> QuantizeStep:
    """The step a search takes for ``layers``: the backend's first mode (static where it can)."""
    return QuantizeStep(layers=layers, mode=quantization_backend(backend).modes[0], backend=backend)


def point_params(point, catalog, space) -> dict:
    """The parameters that quantize the layers at or above ``point.sqnr_threshold_db``."""
    if space.quantize_by == "sqnr":
        low, high = space.sqnr_threshold_db
        return {"quantize.sqnr_threshold_db": min(max(point.sqnr_threshold_db, low), high)}
    return {
        f"quantize.{layer}": catalog.sqnr_db.get(layer, 0.0) >= point.sqnr_threshold_db
        for layer in catalog.quantizable
    }
