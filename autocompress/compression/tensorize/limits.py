"""What the time cap leaves of each layer's ranks, so that the search space samples only ranks
the step will take.

A CP estimated to take longer than ``factorize.CP_TIME_CAP_S`` is refused before it starts
(``transform.py``). A space sampling above that would refuse its own trials, so it samples
within the same estimate: per layer, the largest rank and rank fraction whose CP fits, and
whether VBMF's rank does. Tucker and SVD take seconds at any rank and have no cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from autocompress.compression.tensorize import factorize
from autocompress.compression.tensorize.step import Rank
from autocompress.compression.tensorize.transform import resolve_rank

__all__ = ["RankLimit", "rank_limit", "within"]

VBMF = "vbmf"


@dataclass(frozen=True)
class RankLimit:
    """The largest rank a layer's factorisation takes within the time cap."""

    rank: int
    fraction: float  # the largest rank fraction that resolves to at most ``rank``
    vbmf: bool  # whether VBMF's rank is within it


def rank_limit(module: nn.Module, method: str, vbmf: bool = True) -> RankLimit | None:
    """The cap's limit on factorising ``module`` by ``method``; None where there is none
    (Tucker, and a Linear's SVD). ``vbmf``: also find whether VBMF's rank fits (an EVBMF of
    the layer's unfoldings, kept in the cache); False assumes it does not."""
    if method != "cp" or isinstance(module, nn.Linear):
        return None
    shape = tuple(module.weight.shape)
    largest = min(
        factorize.cp_rank_within(shape, factorize.CP_TIME_CAP_S), factorize.cp_rank_cap(shape)
    )
    # resolve_rank gives CP ceil(fraction x the wider channel count); just under the ratio
    # rounds up to ``largest`` itself.
    fraction = largest / max(shape[:2]) * (1 - 1e-9)
    fits = vbmf and resolve_rank(module, VBMF, method)[0] <= largest
    return RankLimit(largest, fraction, fits)


def within(rank: Rank, limit: RankLimit | None) -> Rank:
    """``rank``, or the largest that ``limit`` leaves when it is above it."""
    if limit is None:
        return rank
    if rank == VBMF:
        return rank if limit.vbmf else limit.fraction
    if isinstance(rank, float):
        return min(rank, limit.fraction)
    return min(rank, limit.rank)
