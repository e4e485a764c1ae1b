"""Pruning as data: which groups lose how many output channels, and what a step did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from autocompress.compression.steps import PipelineError

__all__ = ["IMPORTANCES", "PruneStep", "PrunedLayer"]

IMPORTANCES = ("magnitude", "bn_scale", "taylor")


@dataclass(frozen=True)
class PruneStep:
    """Structured channel pruning: ``ratios`` maps a group of :func:`prunable_groups` to the
    fraction of its output channels to remove. ``round_to`` keeps widths a multiple of it."""

    kind: ClassVar[str] = "prune"

    ratios: dict[str, float]
    importance: str = "magnitude"
    round_to: int | None = None

    def __post_init__(self) -> None:
        if not self.ratios:
            raise PipelineError("prune step has no ratios")
        for group, ratio in self.ratios.items():
            if isinstance(ratio, bool) or not isinstance(ratio, int | float):
                raise PipelineError(f"prune ratio of {group!r} must be a number, got {ratio!r}")
            if not 0.0 <= ratio < 1.0:
                raise PipelineError(
                    f"prune ratio of {group!r} must be in [0, 1) (1 would remove every channel), "
                    f"got {ratio}"
                )
        if self.importance not in IMPORTANCES:
            raise PipelineError(
                f"unknown importance {self.importance!r}; choose one of {', '.join(IMPORTANCES)}"
            )
        if self.round_to is not None and (
            isinstance(self.round_to, bool)
            or not isinstance(self.round_to, int)
            or self.round_to < 1
        ):
            raise PipelineError(f"round_to must be a positive integer, got {self.round_to!r}")

    def summary(self) -> str:
        ratios = [r for r in self.ratios.values() if r > 0]
        return f"prune {len(ratios)} groups ~{sum(ratios) / max(1, len(ratios)):.0%}"


@dataclass(frozen=True)
class PrunedLayer:
    name: str
    group: str
    requested_ratio: float
    channels_before: int
    channels_after: int

    @property
    def achieved_ratio(self) -> float:
        return 1.0 - self.channels_after / self.channels_before

    def __str__(self) -> str:
        return (
            f"{self.name:<48} {self.channels_before:>5} -> {self.channels_after:<5}"
            f" requested {self.requested_ratio:.0%}, achieved {self.achieved_ratio:.1%}"
        )
