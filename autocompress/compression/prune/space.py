"""Pruning's part of the search space, in either layout.

``compact``: one ratio and a taper (negative: prune the input side harder, positive: the output
side), or, when ``prune.per_group`` is chosen, a ratio per group, so a sampler learns "prune
about 40 %" from a few trials and can still refine group by group. ``per_layer``: a ratio per
group, always.
"""

from __future__ import annotations

import optuna

from autocompress.compression.prune.step import PruneStep

__all__ = ["point_params", "suggest", "tapered"]

TAPER = (-1.0, 1.0)


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def tapered(ratio: float, taper: float, groups: int, bounds: tuple[float, float]) -> list[float]:
    """Per-group ratios around ``ratio``: group ``i`` of ``groups`` gets ``ratio * (1 + taper *
    d)``, ``d`` going from -1 (input side) to 1 (output side), clipped to ``bounds``."""
    depths = [2 * i / (groups - 1) - 1 if groups > 1 else 0.0 for i in range(groups)]
    return [_clip(ratio * (1 + taper * d), bounds) for d in depths]


def _per_group(trial: optuna.Trial, catalog, space) -> dict[str, float]:
    low, high = space.prune_ratio
    return {
        group: trial.suggest_float(f"prune.{group}", low, high) for group in catalog.prune_groups
    }


def _ratios(trial: optuna.Trial, catalog, space) -> dict[str, float]:
    if space.layout == "per_layer" or trial.suggest_categorical("prune.per_group", [False, True]):
        return _per_group(trial, catalog, space)
    ratio = trial.suggest_float("prune.ratio", *space.prune_ratio)
    taper = trial.suggest_float("prune.taper", *TAPER)
    ratios = tapered(ratio, taper, len(catalog.prune_groups), space.prune_ratio)
    return dict(zip(catalog.prune_groups, ratios, strict=True))


def suggest(trial: optuna.Trial, catalog, space, state) -> PruneStep | None:
    """A ratio per prune group the steps before left in place. A per-layer group whose layer
    an earlier step factorised follows it (as ``Names.factorise`` renames it) to its last
    factor, which has the layer's output channels."""
    ratios = {
        state.factored[g][-1] if g in state.factored else g: r
        for g, r in _ratios(trial, catalog, space).items()
        if state.present(g)
    }
    return PruneStep(ratios=ratios, round_to=space.prune_round_to) if ratios else None


def point_params(point, catalog, space) -> dict:
    """The parameters that give ``point.prune`` (absent groups: the lower bound): uniform
    ratios as one ratio in the compact layout, others per group."""
    low = space.prune_ratio[0]
    clipped = {
        f"prune.{group}": _clip((point.prune or {}).get(group, low), space.prune_ratio)
        for group in catalog.prune_groups
    }
    if space.layout == "per_layer":
        return clipped
    if len(set(clipped.values())) == 1:
        (ratio,) = set(clipped.values())
        return {"prune.per_group": False, "prune.ratio": ratio, "prune.taper": 0.0}
    return {"prune.per_group": True, **clipped}
