"""Post-training int8 quantization of selected layers, on torch.ao's FX backend (x86 / fbgemm).

torch.ao.quantization is deprecated in favour of torchao's PT2E flow but is the one that gives
real int8 CPU kernels and TorchScript-able models without compilation in torch 2.13. Everything
backend-specific is in this module, behind :func:`quantize`, so a PT2E backend can replace it.

Static mode traces the model (FX), fuses conv+bn+relu patterns, observes activations on the
calibration clips and converts. The selected layers and the glue of their parent blocks (BN,
ReLU, residual adds, pooling) become int8, so activations stay int8 from one selected layer to
the next; every other layer stays float, behind a dequantize. Quantizing only the selected
convs, with a quant/dequant pair around each, made RepNet barely faster (x0.96).

Dynamic mode swaps the selected Linear layers for dynamically quantized ones (no tracing, no
calibration). After either, every selected layer is checked: one that is still float
(e.g. under a module the tracer does not enter) is reported and warned about.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Iterator

import torch
from torch import nn
from torch.ao.quantization import (
    QConfigMapping,
    default_dynamic_qconfig,
    get_default_qconfig,
    quantize_dynamic,
)
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from autocompress.compression.calibration import example_input
from autocompress.compression.layers import quantizable_layers
from autocompress.compression.steps import PipelineError, QuantizedLayer, QuantizeStep, StepReport

__all__ = ["BACKEND", "is_quantized", "quantize", "static_quantize"]

BACKEND = "x86"
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")


def is_quantized(module: nn.Module) -> bool:
    return type(module).__module__.startswith(_QUANTIZED_PACKAGES)


@contextlib.contextmanager
def quantized_engine(engine: str = BACKEND) -> Iterator[None]:
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


# Modules that only move or rescale values: int8 where their parent block is, so int8 flows
# between selected layers instead of being dequantized and requantized around each one.
_GLUE = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.ReLU,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.Dropout,
    nn.Identity,
    nn.Sequential,
)


def qconfig_mapping(model: nn.Module, layers: list[str]) -> QConfigMapping:
    """The selected layers, plus the functional ops and glue modules of their parent blocks
    (BN, ReLU, residual adds, pooling); every other module in those blocks stays float."""
    qconfig = get_default_qconfig(BACKEND)
    parents = {name.rpartition(".")[0] for name in layers} - {""}
    mapping = QConfigMapping()
    for parent in sorted(parents):
        mapping = mapping.set_module_name(parent, qconfig)
    for name, module in model.named_modules():
        inside = any(name.startswith(parent + ".") for parent in parents)
        if inside and name not in layers and not isinstance(module, _GLUE):
            mapping = mapping.set_module_name(name, None)
    for name in layers:
        mapping = mapping.set_module_name(name, qconfig)
    return mapping


@torch.no_grad()
def static_quantize(
    model: nn.Module, layers: list[str], calibration: torch.Tensor
) -> tuple[nn.Module, nn.Module]:
    """(prepared float model with observers, converted int8 model) for the named layers.

    The prepared model is returned too because it holds the fused float layers under the same
    names as the int8 ones: the reference for a per-layer SQNR."""
    mapping = qconfig_mapping(model, layers)
    with quantized_engine(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # said once in the module docstring
        # prepare_fx marks the modules it is given (qconfig attributes): work on a copy.
        prepared = prepare_fx(
            copy.deepcopy(model).eval(), mapping, (example_input(model, calibration),)
        )
        for clip in calibration.split(1):
            prepared(clip)
        converted = convert_fx(copy.deepcopy(prepared))  # convert_fx consumes its input
    return prepared, _scriptable(converted)


def _scriptable(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Drop the type annotations FX copied from ``forward``'s signature: its generated code
    names them by mangled aliases (``_torch_Tensor_``, ``_RepNetOutput_``) that TorchScript
    cannot resolve. Unannotated, TorchScript infers tensors and tuples itself."""
    for node in graph_module.graph.nodes:
        if node.op in ("placeholder", "output"):
            node.type = None
    graph_module.recompile()
    return graph_module


def quantize(
    model: nn.Module, step: QuantizeStep, calibration: torch.Tensor | None = None
) -> StepReport:
    """Quantize the selected layers; the quantized model is ``report.model`` (static mode
    builds a new ``GraphModule``, it cannot modify the model in place)."""
    start = time.perf_counter()
    check_quantize_layers(model, step)
    params_before = _parameters(model)
    if step.mode == "static":
        if calibration is None:
            raise PipelineError("static quantization needs calibration clips to observe ranges")
        _, quantized = static_quantize(model, step.layers, calibration)
    else:
        mapping = {name: default_dynamic_qconfig for name in step.layers}
        with quantized_engine(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            quantized = quantize_dynamic(model.eval(), mapping, dtype=torch.qint8)
    modules = dict(quantized.named_modules())
    layers = tuple(
        QuantizedLayer(
            name,
            is_quantized(modules[name]) if name in modules else False,
            type(modules[name]).__name__ if name in modules else "removed by tracing",
        )
        for name in step.layers
    )
    missed = [layer.name for layer in layers if not layer.quantized]
    notes = ()
    if missed:
        notes = (f"{len(missed)} selected layer(s) stayed float: {', '.join(missed)}",)
        warnings.warn(notes[0], stacklevel=2)
    return StepReport(
        step,
        layers,
        params_before,
        _parameters(quantized),
        time.perf_counter() - start,
        notes,
        model=quantized,
    )


def check_quantize_layers(model: nn.Module, step: QuantizeStep) -> None:
    allowed = quantizable_layers(model)
    unknown = [name for name in step.layers if name not in allowed]
    if unknown:
        raise PipelineError(
            f"cannot quantize {', '.join(unknown)}: not a quantizable layer of this model "
            "(see quantizable_layers)"
        )
    if step.mode == "dynamic":
        not_linear = [n for n in step.layers if not isinstance(model.get_submodule(n), nn.Linear)]
        if not_linear:
            raise PipelineError(
                f"dynamic int8 covers Linear layers only, not {', '.join(not_linear)}"
            )


def _parameters(model: nn.Module) -> int:
    """Float parameters plus int8 packed weights (which are not ``nn.Parameter``)."""
    count = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if is_quantized(module) and callable(getattr(module, "weight", None)):
            count += module.weight().numel()
            bias = module.bias() if callable(getattr(module, "bias", None)) else None
            count += bias.numel() if bias is not None else 0
    return count
