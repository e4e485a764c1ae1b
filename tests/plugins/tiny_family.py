"""A model family in one file: a two-layer MLP on random features, scored by how often it
disagrees with the uncompressed model, registered as the preset ``tiny-mlp``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from autocompress.models.registry import FAMILIES, ModelSettings


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()


_INPUTS = torch.randn(64, 16, generator=torch.Generator().manual_seed(1))


@dataclass
class DisagreementTask:
    reference: torch.Tensor
    objectives: tuple[str, ...] = ("disagreement",)

    def item_count(self) -> int:
        return len(_INPUTS)

    @torch.no_grad()
    def item_errors(self, model: nn.Module, start: int, stop: int) -> np.ndarray:
        predicted = model(_INPUTS[start:stop]).argmax(dim=1)
        wrong = predicted != self.reference[start:stop]
        return wrong.double().numpy().reshape(-1, 1)


@dataclass
class TinyAdapter:
    name: str = "tiny-mlp"
    objectives: tuple[str, ...] = ("disagreement",)
    model: nn.Module = field(default_factory=_model)

    def load(self) -> tuple[nn.Module, str]:
        return self.model, "random weights (seed 0)"

    def calibration(self, count: int) -> torch.Tensor:
        return _INPUTS[:count]

    def example_inputs(self, batch_size: int) -> torch.Tensor:
        return _INPUTS[:1].expand(batch_size, 16).contiguous()

    def profile_parts(self) -> None:
        return None

    def task(self) -> DisagreementTask:
        with torch.no_grad():
            return DisagreementTask(self.model(_INPUTS).argmax(dim=1))

    def test_task(self) -> None:
        return None

    def recipe(self, model: nn.Module) -> None:
        return None


def _from_settings(settings: ModelSettings) -> TinyAdapter:
    return TinyAdapter()


FAMILIES.register("tiny-mlp", _from_settings)
