"""Recovery as data: how long and on what the compressed model is distilled, and what a step
did."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from autocompress.compression.steps import PipelineError

__all__ = ["FinetuneStep", "RecoveryLog"]


@dataclass(frozen=True)
class FinetuneStep:
    """Recovery: distil the compressed model toward the uncompressed one (the teacher), so no
    labels are needed. Batch norms are re-estimated first; ``steps: 0`` does only that.

    ``data`` names where the model family's distillation draws its inputs: ``synthetic`` (its
    own generated ones; the calibration inputs for a family that has none) or a folder of the
    user's data. The loss and its weights are the family's (its ``Distillation``)."""

    steps: int = 300
    learning_rate: float = 3e-4
    batch_size: int = 8
    data: str = "synthetic"
    bn_batches: int = 16  # batches that re-estimate batch-norm statistics first
    seed: int = 0

    kind: ClassVar[str] = "finetune"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "bn_batches", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PipelineError(f"finetune {name} must be an integer >= 0, got {value!r}")
        if self.batch_size < 1:
            raise PipelineError(f"finetune batch_size must be at least 1, got {self.batch_size}")
        value = self.learning_rate
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise PipelineError(f"finetune learning_rate must be a number >= 0, got {value!r}")
        if not isinstance(self.data, str) or not self.data:
            raise PipelineError(f"finetune data must be 'synthetic' or a folder, got {self.data!r}")

    @classmethod
    def from_fields(cls, fields: dict) -> FinetuneStep:
        """A step from a stored pipeline. Pipelines stored before the loss weights moved to
        RepNet's distillation carry them at the values it now uses: read and dropped."""
        fields = dict(fields)
        for name, value in _MOVED_TO_DISTILLATION.items():
            if name in fields and fields.pop(name) != value:
                raise PipelineError(
                    f"finetune {name} is now set by the model family's distillation "
                    f"(RepNet's: {value}); leave it out of the step"
                )
        return cls(**fields)

    def summary(self) -> str:
        if self.steps == 0:
            return "batch norms re-estimated"
        return f"finetune {self.steps} steps"


# Loss weights that finetune steps carried until they moved to RepNet's distillation
# (autocompress.models.repnet.distillation), at the values every stored pipeline used.
_MOVED_TO_DISTILLATION = {"label_weight": 0.5, "embedding_weight": 1.0}


@dataclass(frozen=True)
class RecoveryLog:
    """What a finetune step did: the distillation loss before and after, on the same held
    batch, and how long it took."""

    steps: int
    data: str
    loss_before: float
    loss_after: float

    def __str__(self) -> str:
        return (
            f"{self.steps} steps on {self.data}: distillation loss "
            f"{self.loss_before:.4f} -> {self.loss_after:.4f}"
        )
