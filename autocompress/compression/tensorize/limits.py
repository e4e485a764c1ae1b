"""What CP's time cap leaves of a step's ranks, so that the search space samples only steps
the transform will take.

A CP step estimated to take longer than ``factorize.CP_TIME_CAP_S`` (all its layers together)
is refused before it starts (``transform.py``). A space sampling above that would refuse its
own trials, so it samples within the same estimate: each CP layer of a step gets an equal share
of the cap, and its rank is lowered to the largest whose CP fits the share (VBMF's rank, where
it does not fit, becomes that rank too). Tucker and SVD take seconds at any rank: no cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

from autocompress.compression.tensorize import factorize
from autocompress.compression.tensorize.step import Rank
from autocompress.compression.tensorize.transform import resolve_rank

__all__ = ["CpLayer", "RankLimit", "cp_layer", "rank_limit", "within", "within_cap"]

VBMF = "vbmf"


@dataclass(frozen=True)
class CpLayer:
    """What CP's time estimate needs of a layer: its weight's shape, and VBMF's rank for it."""

    shape: tuple[int, ...]
    vbmf_rank: int | None = None  # None: not known (a space that samples no VBMF)


@dataclass(frozen=True)
class RankLimit:
    """The largest rank a layer's CP takes within a time allowance."""

    rank: int
    fraction: float  # the largest rank fraction that resolves to at most ``rank``
    vbmf: bool  # whether VBMF's rank is within it


def cp_layer(module: nn.Module, vbmf: bool = True) -> CpLayer | None:
    """``module`` as CP's estimate sees it; None for a Linear (factorised by SVD, uncapped).
    ``vbmf``: also find VBMF's rank (an EVBMF of the layer's unfoldings, kept in the cache)."""
    if isinstance(module, nn.Linear):
        return None
    rank = resolve_rank(module, VBMF, "cp")[0] if vbmf else None
    return CpLayer(tuple(module.weight.shape), rank)


def rank_limit(layer: CpLayer, seconds: float) -> RankLimit:
    """The largest rank whose CP of ``layer`` is estimated within ``seconds``."""
    largest = min(
        factorize.cp_rank_within(layer.shape, seconds), factorize.cp_rank_cap(layer.shape)
    )
    # resolve_rank gives CP ceil(fraction x the wider channel count); just under the ratio
    # rounds up to ``largest`` itself.
    fraction = largest / max(layer.shape[:2]) * (1 - 1e-9)
    fits = layer.vbmf_rank is not None and layer.vbmf_rank <= largest
    return RankLimit(largest, fraction, fits)


def within(rank: Rank, limit: RankLimit) -> Rank:
    """``rank``, or the largest that ``limit`` leaves when it is above it."""
    if rank == VBMF:
        return rank if limit.vbmf else limit.fraction
    if isinstance(rank, float):
        return min(rank, limit.fraction)
    return min(rank, limit.rank)


def within_cap(ranks: Mapping[str, Rank], layers: Mapping[str, CpLayer]) -> dict[str, Rank]:
    """A CP step's ``ranks`` lowered so that the step fits the time cap: each of its layers
    that ``layers`` holds (the CP-capped ones) within an equal share of it."""
    capped = [name for name in ranks if name in layers]
    share = factorize.CP_TIME_CAP_S / max(len(capped), 1)
    return {
        name: within(rank, rank_limit(layers[name], share)) if name in layers else rank
        for name, rank in ranks.items()
    }
