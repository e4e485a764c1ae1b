"""What recovery needs from a model family: batches of its inputs and a distillation loss.

A family registers its :class:`Distillation` with its compression structure
(autocompress.compression.structure); RepNet's is
:class:`autocompress.models.repnet.distillation.RepNetDistillation`. A model without one is
distilled by :class:`OutputDistillation` on the study's calibration inputs: its outputs
matched to the teacher's (KL divergence of class distributions for a classifier, mean squared
error otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from autocompress.compression.finetune.step import FinetuneStep
from autocompress.compression.steps import PipelineError
from autocompress.inputs import Inputs, as_inputs, batch_size, output_tensors

__all__ = ["Distillation", "OutputDistillation"]


class Distillation(Protocol):
    def batches(self, step: FinetuneStep, teacher: nn.Module, seed: int) -> Iterator[Any]:
        """Endless batches, the same for the same ``seed``."""
        ...

    def inputs(self, batch: Any) -> Inputs:
        """What the models run on, from one batch: their positional arguments."""
        ...

    def to(self, batch: Any, device: torch.device) -> Any: ...

    def loss(
        self, student_outputs: Any, teacher_outputs: Any, batch: Any, step: FinetuneStep
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to minimise and its named parts."""
        ...

    def held_loss(self, student_outputs: Any, teacher_outputs: Any, step: FinetuneStep) -> float:
        """The student's distance to the teacher, logged before and after recovery."""
        ...


def _tensors(outputs: Any) -> list[torch.Tensor]:
    return [t for t in output_tensors(outputs) if t.is_floating_point()]


@dataclass(frozen=True)
class OutputDistillation:
    """Random batches of ``data`` (inputs, batch first: a tensor or a tuple of positional
    arguments; or a function that loads them when first needed); each output matched to the
    teacher's: KL divergence for class logits (``kind="kl"``), else mean squared error."""

    # None: calibration inputs
    data: torch.Tensor | Inputs | Callable[[], torch.Tensor | Inputs] | None = None
    kind: str = "mse"

    def __post_init__(self) -> None:
        if self.kind not in ("kl", "mse"):
            raise ValueError(f"kind must be 'kl' or 'mse', got {self.kind!r}")

    def batches(self, step: FinetuneStep, teacher: nn.Module, seed: int) -> Iterator[Inputs]:
        data = self.data() if callable(self.data) else self.data
        if data is None:
            raise PipelineError("finetune needs inputs to distil on: give calibration data")
        data = as_inputs(data, "distillation data")
        generator = torch.Generator().manual_seed(seed)
        while True:
            picked = torch.randint(batch_size(data), (step.batch_size,), generator=generator)
            yield tuple(item[picked] for item in data)

    def inputs(self, batch: Inputs) -> Inputs:
        return batch

    def to(self, batch: Inputs, device: torch.device) -> Inputs:
        return tuple(item.to(device) for item in batch)

    def loss(
        self, student_outputs: Any, teacher_outputs: Any, batch: Any, step: FinetuneStep
    ) -> tuple[torch.Tensor, dict[str, float]]:
        terms = [
            F.kl_div(
                F.log_softmax(ours.flatten(0, -2), -1),
                F.log_softmax(theirs.flatten(0, -2), -1),
                log_target=True,
                reduction="batchmean",
            )
            if self.kind == "kl"
            else F.mse_loss(ours, theirs)
            for ours, theirs in zip(
                _tensors(student_outputs), _tensors(teacher_outputs), strict=True
            )
        ]
        loss = torch.stack(terms).sum()
        return loss, {self.kind: loss.item()}

    def held_loss(self, student_outputs: Any, teacher_outputs: Any, step: FinetuneStep) -> float:
        return self.loss(student_outputs, teacher_outputs, None, step)[0].item()
