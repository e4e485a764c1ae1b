"""torch.ao's FX graph mode (x86 / fbgemm): int8 CPU kernels that TorchScript runs as is.

torch.ao.quantization is deprecated in favour of torchao's PT2E flow (``pt2e.py``), but it is
the one whose int8 models run fast without compilation in torch 2.13; its graphs hold packed
weights that ``torch.export`` refuses, so its models ship as TorchScript only.

Static mode traces the model (FX), fuses conv+bn+relu patterns, observes activations on the
calibration clips and converts. The selected layers and the glue of their parent blocks (BN,
ReLU, residual adds, pooling) become int8, so activations stay int8 from one selected layer to
the next; every other layer stays float, behind a dequantize. Quantizing only the selected
convs, with a quant/dequant pair around each, made RepNet barely faster (x0.96).

Dynamic mode swaps the selected Linear layers for dynamically quantized ones (no tracing, no
calibration); the ``dynamic`` backend (dynamic.py) is that mode alone, for models FX cannot
trace.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.ao.quantization import (
    FakeQuantize,
    QConfig,
    QConfigMapping,
    default_dynamic_qconfig,
    disable_fake_quant,
    disable_observer,
    enable_fake_quant,
    get_default_qconfig,
    quantize_dynamic,
)
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx, prepare_qat_fx

from autocompress.compression.calibration import example_input
from autocompress.compression.quantization.backend import QUANTIZATION_BACKENDS, QuantizedLayer
from autocompress.errors import first_line
from autocompress.inputs import Inputs, rows, split

__all__ = ["FxBackend", "is_quantized", "quantize_linear_dynamic"]

ENGINE = "x86"
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")


def is_quantized(module: nn.Module) -> bool:
    return type(module).__module__.startswith(_QUANTIZED_PACKAGES)


@contextlib.contextmanager
def _temporarily(owner: object, name: str, value: object) -> Iterator[None]:
    previous = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, previous)


def quantized_engine(engine: str = ENGINE) -> contextlib.AbstractContextManager[None]:
    return _temporarily(torch.backends.quantized, "engine", engine)


def _no_stack_traces() -> contextlib.AbstractContextManager[None]:
    """FX's quantization tracer records a Python stack trace for every node it creates, for
    debugging; a tenth of a second a model, and nothing of it reaches the artifact."""
    return _temporarily(torch.fx.config, "do_not_emit_stack_traces", True)


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


def _parents(model: nn.Module, layers: list[str], whole_blocks: bool) -> set[str]:
    """The modules whose glue goes int8 with ``layers``: each layer's parent, and with
    ``whole_blocks`` the block above any ``nn.Sequential`` parent (a factorised layer's
    factors sit in one, inside the block of the layer they replaced)."""
    modules = dict(model.named_modules())
    parents = set()
    for name in layers:
        parent = name.rpartition(".")[0]
        while whole_blocks and parent and isinstance(modules.get(parent), nn.Sequential):
            parents.add(parent)
            parent = parent.rpartition(".")[0]
        parents.add(parent)
    return parents - {""}


def qconfig_mapping(
    model: nn.Module, layers: list[str], whole_blocks: bool = False, qconfig: QConfig | None = None
) -> QConfigMapping:
    """The selected layers, plus the functional ops and glue modules of their parent blocks
    (BN, ReLU, residual adds, pooling); every other module in those blocks stays float.
    ``qconfig``: the engine's post-training one by default."""
    qconfig = qconfig or get_default_qconfig(ENGINE)
    parents = _parents(model, layers, whole_blocks)
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


def _scriptable(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Drop the type annotations FX copied from ``forward``'s signature: its generated code
    names them by mangled aliases (``_torch_Tensor_``, ``_RepNetOutput_``) that TorchScript
    cannot resolve. Unannotated, TorchScript infers tensors and tuples itself."""
    for node in graph_module.graph.nodes:
        if node.op in ("placeholder", "output"):
            node.type = None
    graph_module.recompile()
    return graph_module


def quantize_linear_dynamic(model: nn.Module, layers: list[str]) -> nn.Module:
    """A copy of ``model`` whose named Linear layers are dynamically quantized (no tracing)."""
    mapping = {name: default_dynamic_qconfig for name in layers}
    with quantized_engine(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model.eval(), mapping, dtype=torch.qint8)


def _behind_fake_quantizers(qconfig: QConfig) -> QConfig:
    """``qconfig``'s observers, each inside a fake quantizer that training can run through."""
    return QConfig(
        activation=FakeQuantize.with_args(observer=qconfig.activation),
        weight=FakeQuantize.with_args(observer=qconfig.weight),
    )


def _quantizing() -> contextlib.ExitStack:
    """The engine, no stack traces, and quiet about torch.ao's deprecation (module notes)."""
    stack = contextlib.ExitStack()
    stack.enter_context(quantized_engine())
    stack.enter_context(_no_stack_traces())
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore", DeprecationWarning)
    return stack


@torch.no_grad()
def _prepared_that_runs(
    model: nn.Module,
    layers: list[str],
    calibration: Inputs,
    qconfig: QConfig,
    prepared_for: Callable[[QConfigMapping], torch.fx.GraphModule],
) -> tuple[torch.fx.GraphModule, torch.fx.GraphModule]:
    """The prepared model (observed on ``calibration``) whose int8 conversion runs, and that
    conversion (``prepared_for`` prepares a copy: prepare_fx marks the modules it is given).

    Where a block keeps a factorised layer float beside int8 ones, FX was seen to feed int8
    values to the float layer (the block's batch norm + ReLU given an int8 module, or int8
    factors before a float one): the converted model cannot run ("Could not run
    'aten::_slow_conv2d_forward' with arguments from the 'QuantizedCPU' backend", "Input type
    (c10::quint8) and bias type (float) should be the same"). Such a model is quantized again
    with the whole block's glue int8 (its float layers dequantize their inputs then)."""
    with _quantizing():
        prepared, converted = _observed_and_converted(
            prepared_for(qconfig_mapping(model, layers, qconfig=qconfig)), calibration
        )
        try:
            converted(*rows(calibration, 0, 1))
        except (NotImplementedError, RuntimeError):
            mapping = qconfig_mapping(model, layers, whole_blocks=True, qconfig=qconfig)
            prepared, converted = _observed_and_converted(prepared_for(mapping), calibration)
    return prepared, converted


def _observed_and_converted(
    prepared: torch.fx.GraphModule, calibration: Inputs
) -> tuple[torch.fx.GraphModule, torch.fx.GraphModule]:
    for sample in split(calibration):
        prepared(*sample)
    return prepared, _scriptable(convert_fx(copy.deepcopy(prepared)))  # convert_fx consumes it


class FxBackend:
    name = "fx"
    modes = ("static", "dynamic")
    exports = False
    trains = True

    def can_quantize(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear)

    def why_not(self, model: nn.Module, example: Inputs) -> str | None:
        """Static mode needs torch.fx's symbolic trace of the whole model: tried (and nothing
        quantized) on a copy."""
        try:
            with quantized_engine(), _no_stack_traces(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prepare_fx(copy.deepcopy(model).eval(), QConfigMapping(), example)
        except Exception as error:  # any failure to trace says the same: not this backend
            return f"torch.fx cannot trace {type(model).__name__} ({first_line(error)})"
        return None

    @torch.no_grad()
    def quantize(
        self, model: nn.Module, layers: list[str], mode: str, calibration: Inputs | None
    ) -> nn.Module:
        if mode == "static":
            return self._static(model, layers, calibration, keep_reference=False)[1]
        return quantize_linear_dynamic(model, layers)

    @torch.no_grad()
    def reference_and_quantized(
        self, model: nn.Module, layers: list[str], calibration: Inputs
    ) -> tuple[nn.Module, nn.Module]:
        """The prepared model is the reference: it holds the fused float layers (conv+bn+relu)
        under the names the int8 ones get."""
        reference, quantized = self._static(model, layers, calibration, keep_reference=True)
        assert reference is not None
        return reference, quantized

    def _static(
        self, model: nn.Module, layers: list[str], calibration: Inputs, keep_reference: bool
    ) -> tuple[nn.Module | None, nn.Module]:
        """Static int8, and the prepared model where ``keep_reference`` asks for it."""
        example = example_input(model, calibration)

        def prepared_for(mapping: QConfigMapping) -> torch.fx.GraphModule:
            return prepare_fx(copy.deepcopy(model).eval(), mapping, example)

        qconfig = get_default_qconfig(ENGINE)
        prepared, converted = _prepared_that_runs(model, layers, calibration, qconfig, prepared_for)
        return (prepared if keep_reference else None), converted

    def quantize_trained(
        self,
        model: nn.Module,
        layers: list[str],
        calibration: Inputs,
        train: Callable[[nn.Module], None],
    ) -> nn.Module:
        """Static int8 whose float weights were trained through fake quantization first:
        ``train`` trains the prepared model in place (conv-bn pairs fused as they will be in
        int8), then it is converted.

        The fake quantizers hold static int8's own observers, calibrated as it calibrates them
        (on float activations) and then frozen: training starts from the post-training int8
        model, ranges and all, and only moves the float weights on its fixed grid."""
        example = example_input(model, calibration)

        def prepared_for(mapping: QConfigMapping) -> torch.fx.GraphModule:
            # prepare_qat_fx fuses conv-bn pairs into trainable ones: it wants training mode.
            prepared = prepare_qat_fx(copy.deepcopy(model).train(), mapping, example).eval()
            return prepared.apply(disable_fake_quant)

        qconfig = _behind_fake_quantizers(get_default_qconfig(ENGINE))
        prepared, _ = _prepared_that_runs(model, layers, calibration, qconfig, prepared_for)
        prepared.apply(enable_fake_quant).apply(disable_observer)
        train(prepared)
        with _quantizing():
            return _scriptable(convert_fx(prepared.eval()))

    @torch.no_grad()
    def layer_outputs(
        self, model: nn.Module, layers: list[str], sample: Inputs
    ) -> dict[str, torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        handles = []
        for name in layers:

            def hook(_module, _inputs, output, name=name):
                outputs[name] = output.dequantize() if output.is_quantized else output.detach()

            handles.append(model.get_submodule(name).register_forward_hook(hook))
        try:
            with quantized_engine():
                model(*sample)
        finally:
            for handle in handles:
                handle.remove()
        return outputs

    def quantized_layers(self, model: nn.Module, layers: list[str]) -> tuple[QuantizedLayer, ...]:
        modules = dict(model.named_modules())
        return tuple(
            QuantizedLayer(name, is_quantized(modules[name]), type(modules[name]).__name__)
            if name in modules
            else QuantizedLayer(name, False, "removed by tracing")
            for name in layers
        )

    def parameters(self, model: nn.Module) -> int:
        count = sum(p.numel() for p in model.parameters())
        for module in model.modules():
            if is_quantized(module) and callable(getattr(module, "weight", None)):
                count += module.weight().numel()
                bias = module.bias() if callable(getattr(module, "bias", None)) else None
                count += bias.numel() if bias is not None else 0
        return count


QUANTIZATION_BACKENDS.register(FxBackend.name, FxBackend())
