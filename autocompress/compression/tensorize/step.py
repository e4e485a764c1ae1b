"""Factorisation as data: which layers, at which rank and by which method, and what a step
did."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from autocompress.compression.steps import PipelineError

__all__ = ["TENSOR_METHODS", "Rank", "TensorizeStep", "TensorizedLayer"]

TENSOR_METHODS = ("tucker", "cp")

Rank = int | float | str


@dataclass(frozen=True)
class TensorizeStep:
    """Low-rank factorisation: ``ranks`` maps a layer of :func:`decomposable_layers` to an integer
    rank, a fraction of its channels, or ``"vbmf"``. Convolutions use ``method``; Linear is SVD."""

    kind: ClassVar[str] = "tensorize"

    ranks: dict[str, Rank]
    method: str = "tucker"

    def __post_init__(self) -> None:
        if not self.ranks:
            raise PipelineError("tensorize step has no ranks")
        if self.method not in TENSOR_METHODS:
            raise PipelineError(
                f"unknown tensorize method {self.method!r}; "
                f"choose one of {', '.join(TENSOR_METHODS)}"
            )
        for layer, rank in self.ranks.items():
            valid = (
                (isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1)
                or (isinstance(rank, float) and 0.0 < rank <= 1.0 and math.isfinite(rank))
                or rank == "vbmf"
            )
            if not valid:
                raise PipelineError(
                    f"rank of {layer!r} must be an integer >= 1, a fraction in (0, 1] or 'vbmf', "
                    f"got {rank!r}"
                )

    def summary(self) -> str:
        return f"{self.method} {len(self.ranks)} layers"


@dataclass(frozen=True)
class TensorizedLayer:
    name: str
    method: str  # "tucker", "cp" or "svd"
    rank: tuple[int, ...]
    relative_error: float  # ||W - W_hat||_F / ||W||_F
    params_before: int
    params_after: int

    def __str__(self) -> str:
        rank = "x".join(str(r) for r in self.rank)
        return (
            f"{self.name:<48} {self.method:<6} rank {rank:<9} error {self.relative_error:.3f}"
            f"  params {self.params_before:,} -> {self.params_after:,}"
        )
