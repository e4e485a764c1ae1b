"""Recovery as a pipeline step: the compressed model distilled toward the uncompressed one
(autocompress.compression.recovery), before any int8 step. Never sampled by itself: the
search adds it to the points it recovers (autocompress.study.recovery)."""

from __future__ import annotations

from torch import nn

from autocompress.compression.recovery.recover import recover
from autocompress.compression.registry import Technique, register
from autocompress.compression.steps import FinetuneStep, PipelineError, StepReport
from autocompress.compression.structure import structure_of

__all__ = ["finetune"]


def finetune(model: nn.Module, step: FinetuneStep, inputs) -> StepReport:
    if inputs.teacher is None:
        raise PipelineError("finetune distils from the uncompressed model: give it as teacher")
    return recover(
        model,
        step,
        inputs.teacher,
        distillation=structure_of(inputs.teacher).distillation,
        device=inputs.device,
        calibration=inputs.calibration,
    )


register(Technique(step_type=FinetuneStep, transform=finetune))
