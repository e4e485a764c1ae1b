"""Ordered steps as data, one ``apply`` that dispatches on the step's type, and the checks that
refuse a pipeline which cannot work before any layer is touched.

YAML form (the same as ``Pipeline.to_dict``)::

    steps:
      - prune: {ratios: {encoder.stages.0: 0.35, temporal_conv: 0.64}}
      - tensorize: {ranks: {temporal_conv.conv: 0.1}, method: tucker}
      - finetune: {steps: 300}                 # distil back toward the uncompressed model
      - quantize: {layers: [temporal_conv.conv.1], mode: static}   # the Tucker core
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
import yaml
from torch import nn

from autocompress.compression.layers import decomposable_layers, quantizable_layers
from autocompress.compression.prune import prune
from autocompress.compression.quantization import check_quantize_layers, quantize
from autocompress.compression.steps import (
    FinetuneStep,
    PipelineError,
    PruneStep,
    QuantizeStep,
    Step,
    StepReport,
    TensorizeStep,
)
from autocompress.compression.structure import prunable_groups
from autocompress.compression.tensorize import factor_names, tensorize

__all__ = ["Pipeline", "StepInputs", "apply", "apply_pipeline", "register_transform"]


@dataclass(frozen=True)
class StepInputs:
    """What a step may need besides the model: calibration clips (static int8) and the
    uncompressed model (the teacher that recovery distils from)."""

    calibration: torch.Tensor | None = None
    teacher: nn.Module | None = None
    device: str = "cpu"  # where training steps run (the model comes back on the CPU)


Transform = Callable[[nn.Module, Step, StepInputs], StepReport]
_TRANSFORMS: dict[type, Transform] = {}
_KINDS: dict[str, type] = {
    "prune": PruneStep,
    "tensorize": TensorizeStep,
    "quantize": QuantizeStep,
    "finetune": FinetuneStep,
}


def register_transform(step_type: type, transform: Transform) -> None:
    """Make ``apply`` run ``transform`` for steps of ``step_type`` (how a backend plugs in)."""
    _TRANSFORMS[step_type] = transform


def _calibrated(transform: Callable[[nn.Module, Step, torch.Tensor | None], StepReport]):
    """A transform that needs no more than the calibration clips."""
    return lambda model, step, inputs: transform(model, step, inputs.calibration)


def _distilled(model: nn.Module, step: FinetuneStep, inputs: StepInputs) -> StepReport:
    from autocompress.training.recovery import recover  # torch training: imported on use

    if inputs.teacher is None:
        raise PipelineError("finetune distils from the uncompressed model: give it as teacher")
    return recover(model, step, inputs.teacher, inputs.device, inputs.calibration)


register_transform(PruneStep, _calibrated(prune))
register_transform(TensorizeStep, _calibrated(tensorize))
register_transform(QuantizeStep, _calibrated(quantize))
register_transform(FinetuneStep, _distilled)


def apply(
    model: nn.Module,
    step: Step,
    calibration: torch.Tensor | None = None,
    teacher: nn.Module | None = None,
    device: str = "cpu",
) -> StepReport:
    """Apply one step. Prune, tensorize and finetune change ``model`` in place; quantization
    builds a new model. Either way the result is ``report.model``."""
    transform = _TRANSFORMS.get(type(step))
    if transform is None:
        raise PipelineError(f"no transform registered for {type(step).__name__}")
    return transform(model, step, StepInputs(calibration, teacher, device))


def apply_pipeline(
    model: nn.Module,
    pipeline: Pipeline,
    calibration: torch.Tensor | None = None,
    device: str = "cpu",
) -> tuple[nn.Module, list[StepReport]]:
    """Validate, then apply every step in order to a deep copy of ``model``; ``model`` itself
    is the teacher of any finetune step, which trains on ``device``."""
    pipeline.validate(model)
    if calibration is None and any(
        isinstance(s, QuantizeStep) and s.mode == "static" for s in pipeline.steps
    ):
        raise PipelineError("static quantization needs calibration clips to observe ranges")
    teacher = model
    model = copy.deepcopy(model)
    reports = []
    for step in pipeline.steps:
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
        for index, step in enumerate(self.steps, 1):
            if not isinstance(step, tuple(_KINDS.values())):
                raise PipelineError(f"step {index} is a {type(step).__name__}, not a step")
        quantize_at = next(
            (i for i, s in enumerate(self.steps, 1) if isinstance(s, QuantizeStep)), None
        )
        if quantize_at is not None and quantize_at < len(self.steps):
            later = _kind(self.steps[quantize_at])
            raise PipelineError(
                f"step {quantize_at + 1} ({later}) follows quantize (step {quantize_at}): "
                "quantized layers hold int8 weights that cannot be pruned, factorised, "
                "fine-tuned or quantized again; put quantize last"
            )
        if model is not None:
            _NameCheck(model).run(self.steps)

    def to_dict(self) -> dict:
        return {"steps": [{_kind(s): dataclasses.asdict(s)} for s in self.steps]}

    @classmethod
    def from_dict(cls, data: object) -> Pipeline:
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise PipelineError("a pipeline is a mapping with a list under 'steps'")
        steps = []
        for index, entry in enumerate(data["steps"], 1):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise PipelineError(
                    f"step {index} must be a mapping with one key: {', '.join(_KINDS)}"
                )
            ((kind, fields),) = entry.items()
            if kind not in _KINDS:
                raise PipelineError(f"step {index}: unknown technique {kind!r}")
            try:
                steps.append(_KINDS[kind](**(fields or {})))
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


def _kind(step: Step) -> str:
    return next(kind for kind, step_type in _KINDS.items() if isinstance(step, step_type))


class _NameCheck:
    """Tracks the names each technique may use as the steps would rename layers."""

    def __init__(self, model: nn.Module):
        self.groups = set(prunable_groups(model))
        self.decomposable = set(decomposable_layers(model))
        self.quantizable = set(quantizable_layers(model))
        modules = dict(model.named_modules())
        self.modules = {name: modules[name] for name in self.quantizable}
        self.factorised: dict[str, list[str]] = {}

    def run(self, steps: list[Step]) -> None:
        for index, step in enumerate(steps, 1):
            if isinstance(step, PruneStep):
                self._known(index, step.ratios, self.groups, "prune group")
            elif isinstance(step, TensorizeStep):
                self._known(index, step.ranks, self.decomposable, "decomposable layer")
                for name in step.ranks:
                    self._factorise(name, step.method)
            elif isinstance(step, FinetuneStep):
                continue  # names no layer
            else:
                self._known(index, step.layers, self.quantizable, "quantizable layer")
                try:
                    check_quantize_layers(step, self.modules)
                except PipelineError as error:
                    raise PipelineError(f"step {index} (quantize): {error}") from error

    def _known(self, index: int, names, known: set[str], what: str) -> None:
        unknown = [n for n in names if n not in known]
        for name in unknown:
            if name in self.factorised:
                raise PipelineError(
                    f"step {index}: {name} was factorised by an earlier tensorize step; "
                    f"address its factors {', '.join(self.factorised[name])}"
                )
        if unknown:
            shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
            raise PipelineError(
                f"step {index}: unknown {what}(s) {', '.join(unknown)} at that point of the "
                f"pipeline; known: {shown}"
            )

    def _factorise(self, name: str, method: str) -> None:
        module = self.modules.pop(name)
        factors = factor_names(name, module, method)
        self.factorised[name] = factors
        self.decomposable.discard(name)
        self.quantizable.discard(name)
        if name in self.groups:  # per-layer groups (models other than RepNet) follow the layer
            self.groups.discard(name)
            self.groups.update(factors)
        # Each factor is a layer of the original's type; CP's middle ones are depthwise.
        depthwise = factors[1:-1] if method == "cp" and not isinstance(module, nn.Linear) else []
        for factor in factors:
            self.modules[factor] = module
            self.quantizable.add(factor)
            if factor not in depthwise:
                self.decomposable.add(factor)
