"""Post-training int8 behind one small interface, one module per backend.

``fx`` is torch.ao's FX graph mode: real int8 CPU kernels in TorchScript without compiling, but
its graphs cannot be exported (``.pt2``). ``pt2e`` is the torch.export flow of torchao's
quantizers: its graphs export, and AOTInductor compiles them to fused int8 kernels. ``dynamic``
swaps Linear layers for dynamically quantized ones without any graph, for models neither can
trace (TorchScript only). A :class:`QuantizeStep` names its backend, so a pipeline replays on
the same one; a study picks its backend once (choice.py); the per-layer selection, the SQNR
analysis and the report are the same for all.
"""

from __future__ import annotations

import time
import warnings

from torch import nn

from autocompress.compression.finetune.engine import recover
from autocompress.compression.finetune.step import RecoveryLog
from autocompress.compression.layers import quantizable_layers
from autocompress.compression.names import Names

# The shipped backends register themselves when imported (backend.py).
from autocompress.compression.quantization import dynamic, fx, pt2e, space  # noqa: F401
from autocompress.compression.quantization.backend import (
    QUANTIZATION_BACKENDS,
    QuantizationBackend,
    quantization_backend,
)
from autocompress.compression.quantization.choice import BackendChoice, choose_backend
from autocompress.compression.quantization.step import QuantizeStep
from autocompress.compression.registry import Technique, register
from autocompress.compression.steps import PipelineError, StepReport
from autocompress.compression.structure import structure_of
from autocompress.inputs import Inputs

__all__ = [
    "QUANTIZATION_BACKENDS",
    "BackendChoice",
    "QuantizationBackend",
    "choose_backend",
    "quantization_backend",
    "quantize",
]


def quantize(
    model: nn.Module,
    step: QuantizeStep,
    calibration: Inputs | None = None,
    teacher: nn.Module | None = None,
    device: str = "cpu",
) -> StepReport:
    """Quantize the selected layers; the quantized model is ``report.model`` (a new graph: no
    backend can modify the model in place). A selected layer left float is reported and warned
    about. A step with ``recovery`` distils ``teacher`` into the model through fake
    quantization (on ``device``) before converting it."""
    start = time.perf_counter()
    backend = quantization_backend(step.backend)
    modules = dict(model.named_modules())
    check_quantize_layers(step, {name: modules[name] for name in quantizable_layers(model)})
    if step.mode == "static" and calibration is None:
        raise PipelineError("static quantization needs calibration clips to observe ranges")
    params_before = backend.parameters(model)
    notes: tuple[str, ...] = ()
    if step.recovery is None:
        quantized = backend.quantize(model, step.layers, step.mode, calibration)
    else:
        quantized, log = _quantize_recovered(model, step, calibration, teacher, device)
        notes = (f"recovered through int8: {log}",)
    layers = backend.quantized_layers(quantized, step.layers)
    missed = [layer.name for layer in layers if not layer.quantized]
    if missed:
        notes += (f"{len(missed)} selected layer(s) stayed float: {', '.join(missed)}",)
        warnings.warn(notes[-1], stacklevel=2)
    return StepReport(
        step,
        layers,
        params_before,
        backend.parameters(quantized),
        time.perf_counter() - start,
        notes,
        model=quantized,
    )


def _quantize_recovered(
    model: nn.Module,
    step: QuantizeStep,
    calibration: Inputs,
    teacher: nn.Module | None,
    device: str,
) -> tuple[nn.Module, RecoveryLog]:
    """Static int8 after ``step.recovery``'s distillation through fake quantization, and the
    recovery's log. The recovery is the finetune engine's, on the prepared graph: the same
    batches, loss and fixed threads, so a replay gives the same int8 weights."""
    if teacher is None:
        raise PipelineError(
            "quantize recovery distils from the uncompressed model: give it as teacher"
        )
    reports = []

    def train(prepared: nn.Module) -> None:
        distillation = structure_of(teacher).distillation
        reports.append(
            recover(
                prepared,
                step.recovery,
                teacher,
                distillation=distillation,
                device=device,
                calibration=calibration,
            )
        )

    backend = quantization_backend(step.backend)
    quantized = backend.quantize_trained(model, step.layers, calibration, train)
    return quantized, reports[0].layers[0]


def check_quantize_layers(step: QuantizeStep, modules: dict[str, nn.Module]) -> None:
    """Refuse layers the step's backend and mode cannot quantize; ``modules`` are the
    quantizable layers by name (as they will be when the step runs)."""
    unknown = [name for name in step.layers if name not in modules]
    if unknown:
        raise PipelineError(
            f"cannot quantize {', '.join(unknown)}: not a quantizable layer of this model "
            "(see quantizable_layers)"
        )
    backend = quantization_backend(step.backend)
    if step.mode not in backend.modes:
        raise PipelineError(
            f"the {step.backend} backend has no {step.mode} int8; its modes: "
            f"{', '.join(backend.modes)}"
        )
    refused = [name for name in step.layers if not backend.can_quantize(modules[name])]
    if refused:
        kinds = sorted({type(modules[name]).__name__ for name in refused})
        raise PipelineError(
            f"the {step.backend} backend has no int8 {'/'.join(kinds)}: cannot quantize "
            f"{', '.join(refused)}"
        )
    if step.mode == "dynamic":
        not_linear = [n for n in step.layers if not isinstance(modules[n], nn.Linear)]
        if not_linear:
            raise PipelineError(
                f"dynamic int8 covers Linear layers only, not {', '.join(not_linear)}"
            )


def _check(names: Names, index: int, step: QuantizeStep) -> None:
    names.known(index, step.layers, names.quantizable, "quantizable layer")
    try:
        check_quantize_layers(step, names.modules)
    except PipelineError as error:
        raise PipelineError(f"step {index} (quantize): {error}") from error


register(
    Technique(
        step_type=QuantizeStep,
        transform=lambda model, step, inputs: quantize(
            model, step, inputs.calibration, inputs.teacher, inputs.device
        ),
        check=_check,
        letter="Q",
        suggest=space.suggest,
        point_params=space.point_params,
        last="quantized layers hold int8 weights that cannot be pruned, factorised, fine-tuned "
        "or quantized again",
    )
)
