"""The techniques as plain data: one frozen dataclass per step, and what applying one reports.

A step says *what* to do (which layers, how much); the transform registered for its type in
``pipeline.py`` says *how*. Steps check their own values when built, so a bad ratio or an unknown
method is refused before any model is touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from torch import nn

from autocompress.errors import UserError

__all__ = [
    "IMPORTANCES",
    "FinetuneStep",
    "PipelineError",
    "PruneStep",
    "PrunedLayer",
    "QuantizeStep",
    "QuantizedLayer",
    "RecoveryLog",
    "StepReport",
    "TensorizeStep",
    "TensorizedLayer",
]

IMPORTANCES = ("magnitude", "bn_scale", "taylor")
TENSOR_METHODS = ("tucker", "cp")
QUANTIZE_MODES = ("static", "dynamic")


class PipelineError(UserError):
    """A step or pipeline that cannot work on this model, said before (or instead of) a crash."""


Rank = int | float | str


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
class QuantizeStep:
    """Post-training int8: ``static`` quantizes the named Conv/Linear layers with observers
    calibrated on data; ``dynamic`` quantizes Linear weights and activations on the fly.
    ``backend`` decides the graph (and so the artifact formats) the int8 model lives in: one of
    autocompress.compression.quantization's registered backends (fx, pt2e)."""

    kind: ClassVar[str] = "quantize"

    layers: list[str]
    mode: str = "static"
    backend: str = "fx"

    def __post_init__(self) -> None:
        if not self.layers:
            raise PipelineError("quantize step names no layers")
        if self.mode not in QUANTIZE_MODES:
            raise PipelineError(
                f"unknown quantize mode {self.mode!r}; choose one of {', '.join(QUANTIZE_MODES)}"
            )
        if len(set(self.layers)) != len(self.layers):
            raise PipelineError("quantize step names a layer twice")

    def summary(self) -> str:
        return f"int8 {len(self.layers)} layers"


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
        return f"finetune {self.steps} steps"


# Loss weights that finetune steps carried until they moved to RepNet's distillation
# (autocompress.models.repnet.distillation), at the values every stored pipeline used.
_MOVED_TO_DISTILLATION = {"label_weight": 0.5, "embedding_weight": 1.0}


Step = PruneStep | TensorizeStep | QuantizeStep | FinetuneStep


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


@dataclass(frozen=True)
class QuantizedLayer:
    name: str
    quantized: bool
    module_type: str  # what the layer is after the step

    def __str__(self) -> str:
        state = "int8" if self.quantized else "FLOAT (not quantized)"
        return f"{self.name:<48} {state:<22} {self.module_type}"


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


@dataclass(frozen=True)
class StepReport:
    """Per-layer facts of one applied step, checked against the model after the step.

    ``model`` is the model after the step: the same object for in-place steps, a new one where
    the backend builds one (static quantization)."""

    step: Step
    layers: tuple[PrunedLayer | TensorizedLayer | QuantizedLayer | RecoveryLog, ...]
    params_before: int
    params_after: int
    seconds: float
    notes: tuple[str, ...] = ()
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def technique(self) -> str:
        return self.step.kind

    def __str__(self) -> str:
        lines = [
            f"{self.technique}: {len(self.layers)} layers, params {self.params_before:,} -> "
            f"{self.params_after:,} ({self.seconds:.1f} s)"
        ]
        lines += [f"  {layer}" for layer in self.layers]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)
