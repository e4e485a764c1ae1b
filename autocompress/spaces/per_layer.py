"""The per-layer layout: a pruning ratio per group, and per decomposable layer whether to
factorise it and at which rank. Every choice is its own dimension (~100 on RepNet), which a
sampler explores slowly; the compact layout reaches the same pipelines through it."""

from __future__ import annotations

import optuna

from autocompress.spaces.catalog import FRACTION, SKIP, VBMF, LayerCatalog
from autocompress.study.config import SpaceConfig

__all__ = ["prune_params", "rank_params", "suggest_ranks", "suggest_ratios"]


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def suggest_ratios(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig
) -> dict[str, float]:
    low, high = space.prune_ratio
    return {
        group: trial.suggest_float(f"prune.{group}", low, high) for group in catalog.prune_groups
    }


def suggest_ranks(
    trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig
) -> dict[str, float | str]:
    kinds = [SKIP, FRACTION, VBMF] if space.allow_vbmf else [SKIP, FRACTION]
    ranks: dict[str, float | str] = {}
    for layer in catalog.decomposable:
        kind = trial.suggest_categorical(f"tensorize.{layer}", kinds)
        if kind == FRACTION:
            ranks[layer] = trial.suggest_float(f"rank.{layer}", *space.rank_fraction)
        elif kind == VBMF:
            ranks[layer] = VBMF
    return ranks


def prune_params(ratios: dict[str, float], catalog: LayerCatalog, space: SpaceConfig) -> dict:
    """The parameters :func:`suggest_ratios` turns into ``ratios`` (absent: the lower bound)."""
    low = space.prune_ratio[0]
    return {
        f"prune.{group}": _clip(ratios.get(group, low), space.prune_ratio)
        for group in catalog.prune_groups
    }


def rank_params(ranks: dict[str, float | str], catalog: LayerCatalog, space: SpaceConfig) -> dict:
    """The parameters :func:`suggest_ranks` turns into ``ranks`` (absent: skipped)."""
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
