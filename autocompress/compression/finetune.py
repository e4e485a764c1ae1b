"""Recovery as a pipeline step: the compressed model distilled toward the uncompressed one
(autocompress.training.recovery), before any int8 step. Never sampled by itself: the search
adds it to the points it recovers (autocompress.study.recovery)."""

from __future__ import annotations

from torch import nn

from autocompress.compression.registry import Technique, register
from autocompress.compression.steps import FinetuneStep, PipelineError, StepReport

__all__ = ["finetune"]


def finetune(model: nn.Module, step: FinetuneStep, inputs) -> StepReport:
    from autocompress.training.recovery import recover  # torch training: imported on use

    if inputs.teacher is None:
        raise PipelineError("finetune distils from the uncompressed model: give it as teacher")
    return recover(model, step, inputs.teacher, inputs.device, inputs.calibration)


register(Technique(kind="finetune", step_type=FinetuneStep, transform=finetune))
