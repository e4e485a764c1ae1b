"""The case study's hand-tuned recipe for RepNet: the baseline a search has to beat.

Pruning takes 35 % of every encoder group and 64 % of the temporal conv; tensorizing gives the
encoder convs EVBMF ranks, the temporal conv a Tucker rank of 0.1 and the head Linears an SVD
rank; quantizing keeps in int8 the layers whose SQNR clears a threshold. In a chain, each step
is sized on the model the previous steps left (ranks and SQNR of the pruned model), as done by
hand, and the result is a :class:`Pipeline` that replays it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from autocompress.analysis.sqnr import layer_sqnr, layers_above
from autocompress.compression import (
    Pipeline,
    PruneStep,
    QuantizeStep,
    StepReport,
    TensorizeStep,
    apply_pipeline,
    decomposable_layers,
    prunable_groups,
)

__all__ = ["CaseStudyRecipe", "apply_recipe"]


@dataclass(frozen=True)
class CaseStudyRecipe:
    encoder_prune: float = 0.35
    temporal_prune: float = 0.64
    temporal_rank: float = 0.1
    linear_rank: float = 0.25
    min_sqnr_db: float = 30.0
    quantize_backend: str = "fx"

    def prune(self, model: nn.Module) -> PruneStep:
        ratios = {g: self.encoder_prune for g in prunable_groups(model) if g.startswith("encoder")}
        return PruneStep({**ratios, "temporal_conv": self.temporal_prune})

    def tensorize(self, model: nn.Module) -> TensorizeStep:
        ranks: dict[str, int | float | str] = {}
        for name in decomposable_layers(model):
            if name.startswith("encoder"):
                ranks[name] = "vbmf"
            elif name.startswith("temporal_conv"):
                ranks[name] = self.temporal_rank
            elif isinstance(model.get_submodule(name), nn.Linear):
                ranks[name] = self.linear_rank
        return TensorizeStep(ranks)

    def quantize(self, model: nn.Module, calibration: torch.Tensor) -> QuantizeStep:
        ranking = layer_sqnr(model, calibration, backend=self.quantize_backend)
        return QuantizeStep(layers_above(ranking, self.min_sqnr_db), backend=self.quantize_backend)


def apply_recipe(
    model: nn.Module,
    order: str,
    calibration: torch.Tensor,
    recipe: CaseStudyRecipe = CaseStudyRecipe(),
) -> tuple[nn.Module, Pipeline, list[StepReport]]:
    """``model`` compressed by the recipe's steps in ``order`` (letters of P, T, Q), the
    pipeline that replays it, and the steps' reports."""
    unknown = sorted(set(order) - set("PTQ"))
    if unknown:
        raise ValueError(f"order letters are P, T and Q, got {unknown[0]!r} in {order!r}")
    steps, reports = [], []
    for letter in order:
        if letter == "P":
            step = recipe.prune(model)
        elif letter == "T":
            step = recipe.tensorize(model)
        else:
            step = recipe.quantize(model, calibration)
        model, step_reports = apply_pipeline(model, Pipeline([step]), calibration)
        steps.append(step)
        reports += step_reports
    return model.eval(), Pipeline(steps), reports
