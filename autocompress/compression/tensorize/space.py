"""Factorisation's part of the search space, in either layout.

``compact``: how many of the largest layers to factorise and one log-scaled rank fraction for
all of them (or VBMF's ranks), or, when ``tensorize.per_layer`` is chosen, a choice per layer,
so a sampler learns "factorise the three largest layers at a tenth of their rank" from a few
trials. ``per_layer``: per decomposable layer, whether to factorise it and at which rank.
"""

from __future__ import annotations

import optuna

from autocompress.compression.tensorize.limits import within_cap
from autocompress.compression.tensorize.step import TensorizeStep

__all__ = ["FRACTION", "SKIP", "VBMF", "point_params", "suggest"]

SKIP, FRACTION, VBMF = "skip", "fraction", "vbmf"


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def _per_layer(trial: optuna.Trial, catalog, space) -> dict[str, float | str]:
    kinds = [SKIP, FRACTION, VBMF] if space.allow_vbmf else [SKIP, FRACTION]
    ranks: dict[str, float | str] = {}
    for layer in catalog.decomposable:
        kind = trial.suggest_categorical(f"tensorize.{layer}", kinds)
        if kind == FRACTION:
            ranks[layer] = trial.suggest_float(f"rank.{layer}", *space.rank_fraction)
        elif kind == VBMF:
            ranks[layer] = VBMF
    return ranks


def _ranks(trial: optuna.Trial, catalog, space) -> dict[str, float | str]:
    if space.layout == "per_layer" or trial.suggest_categorical(
        "tensorize.per_layer", [False, True]
    ):
        return _per_layer(trial, catalog, space)
    count = trial.suggest_int("tensorize.layers", 1, len(catalog.largest_first))
    chosen = catalog.largest_first[:count]
    if space.allow_vbmf and trial.suggest_categorical("tensorize.vbmf", [False, True]):
        return dict.fromkeys(chosen, VBMF)
    fraction = trial.suggest_float("tensorize.rank", *space.rank_fraction, log=True)
    return dict.fromkeys(chosen, fraction)


def suggest(trial: optuna.Trial, catalog, space, state) -> TensorizeStep | None:
    """A method and ranks for the layers the steps before left in place and the method can
    factorise (``catalog.factors``: what its dry run left), a CP step's ranks within what
    its time cap leaves (``catalog.cp_layers``, limits.py); later steps address the chosen
    layers by their factors' names (``state.factored``)."""
    method = trial.suggest_categorical("tensorize.method", list(space.tensorize_methods))
    ranks = {
        k: r
        for k, r in _ranks(trial, catalog, space).items()
        if state.present(k) and (k, method) in catalog.factors
    }
    if method == "cp":
        ranks = within_cap(ranks, catalog.cp_layers)
    if not ranks:
        return None
    state.factored = {layer: catalog.factors[layer, method] for layer in ranks}
    return TensorizeStep(ranks=ranks, method=method)


def _per_layer_params(ranks: dict[str, float | str], catalog, space) -> dict:
    params: dict[str, object] = {}
    for layer in catalog.decomposable:
        rank = ranks.get(layer)
        if rank == VBMF and space.allow_vbmf:
            params[f"tensorize.{layer}"] = VBMF
        elif isinstance(rank, float):
            params[f"tensorize.{layer}"] = FRACTION
            params[f"rank.{layer}"] = _clip(rank, space.rank_fraction)
        else:
            params[f"tensorize.{layer}"] = SKIP
    return params


def point_params(point, catalog, space) -> dict | None:
    """The parameters that give ``point.method`` and ``point.ranks`` (absent layers: skipped):
    one rank on the k largest layers compactly, any other choice per layer; None when the
    space leaves out the point's method."""
    if point.method not in space.tensorize_methods:
        return None
    ranks = point.ranks or {}
    params: dict[str, object] = {"tensorize.method": point.method}
    if space.layout == "per_layer":
        return {**params, **_per_layer_params(ranks, catalog, space)}
    values = set(ranks.values())
    largest = set(catalog.largest_first[: len(ranks)])
    if ranks and set(ranks) == largest and len(values) == 1:
        (rank,) = values
        params.update({"tensorize.per_layer": False, "tensorize.layers": len(ranks)})
        if rank == VBMF and space.allow_vbmf:
            return {**params, "tensorize.vbmf": True}
        if isinstance(rank, float):
            low, high = space.rank_fraction
            vbmf = {"tensorize.vbmf": False} if space.allow_vbmf else {}
            return {**params, **vbmf, "tensorize.rank": min(max(rank, low), high)}
    return {**params, "tensorize.per_layer": True, **_per_layer_params(ranks, catalog, space)}
