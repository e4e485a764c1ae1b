"""Recovery as a pipeline step: the compressed model distilled toward the uncompressed one,
before any int8 step. Never sampled by itself: the search adds it to the points it recovers
(autocompress.study.recovery). Through int8, the same engine trains the quantize step's fake
quantized graph (``QuantizeStep.recovery``, autocompress.compression.quantization).

The step is in ``step.py``; the engine in ``engine.py`` (batch-norm re-estimation, then
distillation in the project's one optimisation loop, ``loop.py``) under a model family's
``Distillation`` (``distillation.py``), with the teacher's outputs kept between recoveries
(``teacher_outputs.py``)."""

from __future__ import annotations

from torch import nn

from autocompress.compression.finetune.engine import recover
from autocompress.compression.finetune.step import FinetuneStep
from autocompress.compression.registry import Technique, register
from autocompress.compression.steps import PipelineError, StepReport
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
