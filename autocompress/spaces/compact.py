"""The compact layout: a few dimensions that move the whole model, with the per-layer layout
one choice away.

Pruning is one ratio and a taper (negative: prune the input side harder, positive: the output
side), or, when ``prune.per_group`` is chosen, a ratio per group. Factorisation is how many of
the largest layers to factorise and one log-scaled rank fraction for all of them (or VBMF's
ranks), or, when ``tensorize.per_layer`` is chosen, a choice per layer. A sampler thus learns
"prune about 40 %, factorise the three largest layers at a tenth of their rank" from a few
trials, and can still refine layer by layer.
"""

from __future__ import annotations

import optuna

from autocompress.spaces import per_layer
from autocompress.spaces.catalog import VBMF, LayerCatalog
from autocompress.study.config import SpaceConfig

__all__ = ["prune_params", "rank_params", "suggest_ranks", "suggest_ratios", "tapered"]

TAPER = (-1.0, 1.0)


def tapered(ratio: float, taper: float, groups: int, bounds: tuple[float, float]) -> list[float]:
    """Per-group ratios around ``ratio``: group ``i`` of ``groups`` gets ``ratio * (1 + taper *
    d)``, ``d`` going from -1 (input side) to 1 (output side), clipped to ``bounds``."""
    depths = [2 * i / (groups - 1) - 1 if groups > 1 else 0.0 for i in range(groups)]
    return [min(max(ratio * (1 + taper * d), bounds[0]), bounds[1]) for d in depths]


def suggest_ratios(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig
) -> dict[str, float]:
    if trial.suggest_categorical("prune.per_group", [False, True]):
        return per_layer.suggest_ratios(trial, catalog, space)
    ratio = trial.suggest_float("prune.ratio", *space.prune_ratio)
    taper = trial.suggest_float("prune.taper", *TAPER)
    ratios = tapered(ratio, taper, len(catalog.prune_groups), space.prune_ratio)
    return dict(zip(catalog.prune_groups, ratios, strict=True))


def suggest_ranks(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig
) -> dict[str, float | str]:
    if trial.suggest_categorical("tensorize.per_layer", [False, True]):
        return per_layer.suggest_ranks(trial, catalog, space)
    count = trial.suggest_int("tensorize.layers", 1, len(catalog.largest_first))
    chosen = catalog.largest_first[:count]
    if space.allow_vbmf and trial.suggest_categorical("tensorize.vbmf", [False, True]):
        return dict.fromkeys(chosen, VBMF)
    fraction = trial.suggest_float("tensorize.rank", *space.rank_fraction, log=True)
    return dict.fromkeys(chosen, fraction)


def prune_params(ratios: dict[str, float], catalog: LayerCatalog, space: SpaceConfig) -> dict:
    """The parameters that give ``ratios``: uniform ones as one ratio, others per group."""
    clipped = per_layer.prune_params(ratios, catalog, space)
    if len(set(clipped.values())) == 1:
        (ratio,) = set(clipped.values())
        return {"prune.per_group": False, "prune.ratio": ratio, "prune.taper": 0.0}
    return {"prune.per_group": True, **clipped}


def rank_params(ranks: dict[str, float | str], catalog: LayerCatalog, space: SpaceConfig) -> dict:
    """The parameters that give ``ranks``: one rank on the k largest layers compactly, any
    other choice per layer."""
    values = set(ranks.values())
    largest = set(catalog.largest_first[: len(ranks)])
    if ranks and set(ranks) == largest and len(values) == 1:
        (rank,) = values
        params: dict[str, object] = {"tensorize.per_layer": False, "tensorize.layers": len(ranks)}
        if rank == VBMF and space.allow_vbmf:
            return {**params, "tensorize.vbmf": True}
        if isinstance(rank, float):
            low, high = space.rank_fraction
            vbmf = {"tensorize.vbmf": False} if space.allow_vbmf else {}
            return {**params, **vbmf, "tensorize.rank": min(max(rank, low), high)}
    return {"tensorize.per_layer": True, **per_layer.rank_params(ranks, catalog, space)}
