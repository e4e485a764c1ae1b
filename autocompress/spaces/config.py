"""The bounds of a study's search space: which technique orders, which layers, which ranges.

A study file's ``space:`` section maps onto :class:`SpaceConfig`; the spaces read it when they
turn a trial into a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from autocompress.compression.registry import techniques
from autocompress.errors import UserError

__all__ = ["DEFAULT_ORDERS", "LAYOUTS", "SpaceConfig"]

# Prune, tensorize, quantize in every order that ends with int8; "" re-measures the baseline.
DEFAULT_ORDERS = ("P", "T", "Q", "PT", "TP", "PQ", "TQ", "PTQ", "TPQ")
# compact: a few dimensions that move the whole model; per_layer: one per group and layer.
LAYOUTS = ("compact", "per_layer")


def _check_order(order: str) -> None:
    """An order is letters of searchable techniques, each once, a final one (int8) last."""
    by_letter = {t.letter: t for t in techniques() if t.letter and t.suggest}
    letters = ", ".join(f"{letter} ({t.kind})" for letter, t in sorted(by_letter.items()))
    unknown = sorted(set(order) - set(by_letter))
    if unknown or len(set(order)) != len(order):
        problem = f"unknown letter {unknown[0]!r}" if unknown else "a letter twice"
        raise UserError(f"space.orders: {order!r} has {problem}; letters: {letters}")
    final = next((letter for letter in order[:-1] if by_letter[letter].last), None)
    if final is not None:
        kind = by_letter[final].kind
        raise UserError(f"space.orders: {order!r} puts {kind} ({final}) before other steps")


@dataclass(frozen=True)
class SpaceConfig:
    """Bounds of the search space; a study file narrows or widens them."""

    # Letters of registered techniques (autocompress.compression.registry: P prune, T
    # tensorize, Q quantize, D drop residual blocks). The empty order is allowed (it
    # re-measures the baseline) but not the default: every study already times and scores the
    # uncompressed model as its first trial.
    orders: tuple[str, ...] = DEFAULT_ORDERS
    layout: str = "compact"  # or "per_layer" (autocompress.spaces)
    prune_groups: tuple[str, ...] | None = None  # None: every prunable group of the model
    prune_ratio: tuple[float, float] = (0.0, 0.7)
    prune_round_to: int | None = None
    tensorize_layers: tuple[str, ...] | None = None  # None: every decomposable layer
    tensorize_methods: tuple[str, ...] = ("tucker", "cp")
    rank_fraction: tuple[float, float] = (0.05, 0.7)
    allow_vbmf: bool = True
    quantize_by: str = "sqnr"  # "sqnr": threshold over the SQNR ranking; "layer": per layer
    sqnr_threshold_db: tuple[float, float] = (5.0, 40.0)

    def __post_init__(self) -> None:
        if not self.orders:
            raise UserError("space.orders: empty; give at least one order")
        for order in self.orders:
            _check_order(order)
        for name in ("prune_ratio", "rank_fraction", "sqnr_threshold_db"):
            low, high = getattr(self, name)
            if low > high:
                raise UserError(f"space.{name}: lower bound {low} is above upper bound {high}")
        if not (self.prune_ratio[0] >= 0 and self.prune_ratio[1] < 1):
            raise UserError(f"space.prune_ratio must lie in [0, 1), got {self.prune_ratio}")
        if not (self.rank_fraction[0] > 0 and self.rank_fraction[1] <= 1):
            raise UserError(f"space.rank_fraction must lie in (0, 1], got {self.rank_fraction}")
        if self.layout not in LAYOUTS:
            raise UserError(f"space.layout: {self.layout!r}; choose from {', '.join(LAYOUTS)}")
        if self.quantize_by not in ("sqnr", "layer"):
            raise UserError(
                f"space.quantize_by must be 'sqnr' or 'layer', got {self.quantize_by!r}"
            )
