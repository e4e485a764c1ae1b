"""Ordered steps as data, one ``apply`` that dispatches on the step's technique (the
registry), and the checks that refuse a pipeline which cannot work before any layer is touched.

YAML form (the same as ``Pipeline.to_dict``)::

    steps:
      - prune: {ratios: {encoder.stages.0: 0.35, temporal_conv: 0.64}}
      - tensorize: {ranks: {temporal_conv.conv: 0.1}, method: tucker}
      - finetune: {steps: 300}                 # distil back toward the uncompressed model
      - quantize: {layers: [temporal_conv.conv.1], mode: static}   # the Tucker core
        # or, distilled through fake quantization before converting (fx):
        # quantize: {layers: [...], recovery: {steps: 40, learning_rate: 3.0e-5, bn_batches: 0}}
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
import yaml
from torch import nn

from autocompress.compression.names import Names
from autocompress.compression.registry import StepInputs, technique_of, techniques
from autocompress.compression.steps import PipelineError, Step, StepReport
from autocompress.inputs import Inputs, as_inputs

__all__ = ["Pipeline", "StepInputs", "apply", "apply_pipeline"]


def apply(
    model: nn.Module,
    step: Step,
    calibration: torch.Tensor | Inputs | None = None,
    teacher: nn.Module | None = None,
    device: str = "cpu",
) -> StepReport:
    """Apply one step. Prune, tensorize and finetune change ``model`` in place; quantization
    builds a new model. Either way the result is ``report.model``."""
    if calibration is not None:
        calibration = as_inputs(calibration, "calibration")
    return technique_of(step).transform(model, step, StepInputs(calibration, teacher, device))


def apply_pipeline(
    model: nn.Module,
    pipeline: Pipeline,
    calibration: torch.Tensor | Inputs | None = None,
    device: str = "cpu",
    between_steps: Callable[[], None] | None = None,
) -> tuple[nn.Module, list[StepReport]]:
    """Validate, then apply every step in order to a deep copy of ``model``; ``model`` itself
    is the teacher of any finetune step, which trains on ``device``. ``between_steps`` is
    called before each step after the first (a study's time limit raises there)."""
    pipeline.validate(model)
    teacher = model
    model = copy.deepcopy(model)
    reports = []
    for index, step in enumerate(pipeline.steps):
        if index and between_steps is not None:
            between_steps()
        report = apply(model, step, calibration, teacher, device)
        model = report.model
        reports.append(report)
    return model, reports


@dataclass(frozen=True)
class Pipeline:
    steps: list[Step]

    def validate(self, model: nn.Module | None = None) -> None:
        """Refuse impossible orders; with ``model``, also names that will not exist when their
        step runs (following the renames tensorization makes)."""
        if not self.steps:
            raise PipelineError("pipeline has no steps")
        kinds = []
        for index, step in enumerate(self.steps, 1):
            try:
                kinds.append(technique_of(step))
            except PipelineError:
                kind = type(step).__name__
                raise PipelineError(f"step {index} is a {kind}, not a step") from None
        final = next((i for i, t in enumerate(kinds, 1) if t.last is not None), None)
        if final is not None and final < len(self.steps):
            first, later = kinds[final - 1], kinds[final]
            raise PipelineError(
                f"step {final + 1} ({later.kind}) follows {first.kind} (step {final}): "
                f"{first.last}; put {first.kind} last"
            )
        if model is not None:
            names = Names(model)
            for index, (step, technique) in enumerate(zip(self.steps, kinds, strict=True), 1):
                if technique.check is not None:
                    technique.check(names, index, step)

    def to_dict(self) -> dict:
        return {"steps": [{technique_of(s).kind: _fields_of(s)} for s in self.steps]}

    @classmethod
    def from_dict(cls, data: object) -> Pipeline:
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise PipelineError("a pipeline is a mapping with a list under 'steps'")
        kinds = {technique.kind: technique.step_type for technique in techniques()}
        steps = []
        for index, entry in enumerate(data["steps"], 1):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise PipelineError(
                    f"step {index} must be a mapping with one key: {', '.join(kinds)}"
                )
            ((kind, fields),) = entry.items()
            if kind not in kinds:
                raise PipelineError(f"step {index}: unknown technique {kind!r}")
            try:
                steps.append(_step_from_fields(kinds[kind], fields or {}))
            except TypeError as error:
                raise PipelineError(f"step {index} ({kind}): {error}") from error
        return cls(steps)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> Pipeline:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise PipelineError(f"pipeline is not valid YAML: {error}") from error
        return cls.from_dict(data)


def _fields_of(step: Step) -> dict:
    """A step may write its own stored form (leaving out a field at its default that older
    pipelines lack, so they compare equal): ``to_fields``."""
    if hasattr(step, "to_fields"):
        return step.to_fields()
    return dataclasses.asdict(step)


def _step_from_fields(step_type: type, fields: dict) -> Step:
    """A step type may read its own stored form (keys of older versions): ``from_fields``."""
    if hasattr(step_type, "from_fields"):
        return step_type.from_fields(fields)
    return step_type(**fields)
