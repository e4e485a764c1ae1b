"""PT2E: torchao's quantizers on a ``torch.export`` graph, so int8 models export as ``.pt2``.

The model is exported (batch size dynamic, as counting batches chunks), annotated by
``X86InductorQuantizer`` with one ``set_module_name_qconfig`` per selected layer (every other
layer stays float), observed on the calibration clips and converted to a graph of float ops
between quantize/dequantize pairs. Run as is, that graph is slower than float; AOTInductor
(``backends/aoti.py``) fuses the pairs into int8 oneDNN kernels. The x86 quantizer has no
int8 Conv3d, so such layers are refused by name rather than silently left float.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import types
import warnings

import torch
from torch import nn
from torch.fx import GraphModule, Interpreter, Node

from autocompress.backends.exported_program import export_program
from autocompress.compression.calibration import example_input
from autocompress.compression.quantization.backend import QUANTIZATION_BACKENDS, QuantizedLayer
from autocompress.errors import first_line
from autocompress.inputs import Inputs, split

__all__ = ["Pt2eBackend"]

_LAYER_OPS = (
    torch.ops.aten.conv1d.default,
    torch.ops.aten.conv2d.default,
    torch.ops.aten.conv3d.default,
    torch.ops.aten.linear.default,
)
_BATCH_NORMS = (
    torch.ops.aten.batch_norm.default,
    torch.ops.aten._native_batch_norm_legit_no_training.default,
)
_DEQUANTIZE_NAMES = ("dequantize_per_channel", "dequantize_per_tensor", "dequantize_affine")


# Loggers that speak while torchao is imported: a line per CUDA extension it cannot load on a
# CPU-only machine, and a deprecation of how it registers an enum; noise a user cannot act on.
_IMPORT_NOISE = ("torchao", "torch.utils._pytree")


def _torchao_pt2e():
    """torchao's PT2E entry points, imported on first use, quietly."""
    loggers = [logging.getLogger(name) for name in _IMPORT_NOISE]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    return prepare_pt2e, convert_pt2e, x86_inductor_quantizer


def export_graph(model: nn.Module, example: Inputs) -> GraphModule:
    """``model`` as an ATen graph whose batch size may vary (autocompress.backends)."""
    return export_program(copy.deepcopy(model).eval(), example).module()


def layer_nodes(graph_module: GraphModule) -> dict[str, Node]:
    """Each Conv/Linear module of the exported model -> the ATen node that computes it."""
    nodes = {}
    for node in graph_module.graph.nodes:
        stack = node.meta.get("nn_module_stack")
        if node.op == "call_function" and node.target in _LAYER_OPS and stack:
            path, _ = list(stack.values())[-1]
            nodes[path] = node
    return nodes


def _is_int8_weight(node: Node) -> bool:
    weight = node.args[1]
    target = getattr(weight, "target", None)
    return isinstance(weight, Node) and any(name in str(target) for name in _DEQUANTIZE_NAMES)


def _batch_norms_as_affine(graph_module: GraphModule) -> None:
    """Rewrite the batch norms left in the graph (those after a residual add or a Conv3d, which
    cannot fold into a conv) as ``x * scale + shift``. With any batch norm in its input,
    ``convert_pt2e`` re-exports 96 QAT patterns to look for conv-bn pairs, 14 s every call."""
    aten = torch.ops.aten
    graph = graph_module.graph
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in _BATCH_NORMS:
            continue
        if node.target == aten.batch_norm.default:
            x, weight, bias, mean, var, training, _momentum, eps = node.args[:8]
            if training:
                continue  # batch statistics: not an affine map
            output = node
        else:
            x, weight, bias, mean, var, _momentum, eps = node.args[:7]
            getters = [user for user in node.users if user.args[1] == 0]
            if len(getters) != len(node.users) or len(getters) != 1:
                continue  # the statistics outputs are used: leave it
            output = getters[0]
        shape = [-1] + [1] * (x.meta["val"].dim() - 2)
        with graph.inserting_before(node):
            scale = graph.call_function(
                aten.rsqrt.default, (graph.call_function(aten.add.Tensor, (var, eps)),)
            )
            if weight is not None:
                scale = graph.call_function(aten.mul.Tensor, (scale, weight))
            shift = graph.call_function(aten.mul.Tensor, (mean, scale))
            shift = graph.call_function(aten.neg.default, (shift,))
            if bias is not None:
                shift = graph.call_function(aten.add.Tensor, (shift, bias))
            scaled = graph.call_function(
                aten.mul.Tensor, (x, graph.call_function(aten.view.default, (scale, shape)))
            )
            affine = graph.call_function(
                aten.add.Tensor, (scaled, graph.call_function(aten.view.default, (shift, shape)))
            )
        affine.meta["val"] = output.meta.get("val")
        output.replace_all_uses_with(affine)
        if output is not node:
            graph.erase_node(output)
        graph.erase_node(node)
    graph.eliminate_dead_code()
    graph_module.recompile()


def _drop_unused_tensors(graph_module: GraphModule) -> None:
    """Remove the parameters and buffers no node reads any more (the float weights of the
    layers now int8): they would count in the size and be written into every artifact."""
    used = {node.target for node in graph_module.graph.nodes if node.op == "get_attr"}
    named = [*graph_module.named_parameters(), *graph_module.named_buffers()]
    for name, _ in named:
        if name not in used:
            owner, _, leaf = name.rpartition(".")
            delattr(graph_module.get_submodule(owner), leaf)


def _inference_only(graph_module: GraphModule, mode: bool = True) -> GraphModule:
    """``train`` and ``eval`` of an exported graph: its inference behaviour is baked in (batch
    norms are affine ops, dropout is gone), so there is nothing to switch. The project calls
    ``.eval()`` on every model, which ``torch.export``'s modules refuse."""
    return graph_module


class _Recorder(Interpreter):
    """Runs a graph and keeps the outputs of some nodes (the graph has no submodules to hook)."""

    def __init__(self, graph_module: GraphModule, wanted: dict[Node, str]):
        super().__init__(graph_module)
        self.wanted = wanted
        self.outputs: dict[str, torch.Tensor] = {}

    def run_node(self, node: Node):
        result = super().run_node(node)
        if node in self.wanted:
            self.outputs[self.wanted[node]] = result.detach()
        return result


class Pt2eBackend:
    name = "pt2e"
    modes = ("static", "dynamic")
    exports = True
    trains = False  # torchao's prepare_qat_pt2e is not wired in

    def can_quantize(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Conv2d | nn.Linear)

    def why_not(self, model: nn.Module, example: Inputs) -> str | None:
        """Every step starts from the ``torch.export`` graph: tried on a copy. A failing
        export prints its partial graph to stderr and logs an error; said in one line here."""
        export_log = logging.getLogger("torch.export")
        level = export_log.level
        export_log.setLevel(logging.CRITICAL)
        try:
            with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                export_graph(model, example)
        except Exception as error:  # any failure to export says the same: not this backend
            return f"torch.export cannot export {type(model).__name__} ({first_line(error)})"
        finally:
            export_log.setLevel(level)
        return None

    @torch.no_grad()
    def quantize(
        self, model: nn.Module, layers: list[str], mode: str, calibration: Inputs | None
    ) -> nn.Module:
        return self._prepare_and_convert(model, layers, mode, calibration)[1]

    def reference_and_quantized(
        self, model: nn.Module, layers: list[str], calibration: Inputs
    ) -> tuple[nn.Module, nn.Module]:
        """The reference is the prepared graph: float, with the conv-bn pairs folded as in the
        int8 one, and the same node for each layer."""
        return self._prepare_and_convert(model, layers, "static", calibration)

    @torch.no_grad()
    def _prepare_and_convert(
        self, model: nn.Module, layers: list[str], mode: str, calibration: Inputs | None
    ) -> tuple[GraphModule, GraphModule]:
        prepare_pt2e, convert_pt2e, x86 = _torchao_pt2e()
        example = example_input(model, calibration)
        config = x86.get_default_x86_inductor_quantization_config(is_dynamic=mode == "dynamic")
        quantizer = x86.X86InductorQuantizer()
        for name in layers:
            quantizer.set_module_name_qconfig(name, config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # export's and torchao's notes on internals
            prepared = prepare_pt2e(export_graph(model, example), quantizer)
            _batch_norms_as_affine(prepared)
            for sample in split(calibration if calibration is not None else example):
                prepared(*sample)
            converted = convert_pt2e(copy.deepcopy(prepared))
        _drop_unused_tensors(converted)
        for graph_module in (prepared, converted):
            graph_module.train = types.MethodType(_inference_only, graph_module)
            graph_module.eval = types.MethodType(_inference_only, graph_module)
        return prepared, converted

    @torch.no_grad()
    def layer_outputs(
        self, model: nn.Module, layers: list[str], sample: Inputs
    ) -> dict[str, torch.Tensor]:
        nodes = layer_nodes(model)
        recorder = _Recorder(model, {nodes[name]: name for name in layers if name in nodes})
        recorder.run(*sample)
        return recorder.outputs

    def quantized_layers(self, model: nn.Module, layers: list[str]) -> tuple[QuantizedLayer, ...]:
        nodes = layer_nodes(model)
        return tuple(
            QuantizedLayer(name, _is_int8_weight(nodes[name]), str(nodes[name].target))
            if name in nodes
            else QuantizedLayer(name, False, "not in the exported graph")
            for name in layers
        )

    def parameters(self, model: nn.Module) -> int:
        """Weights and biases, float or int8 (an exported graph holds them as buffers too);
        batch-norm statistics excluded, as ``nn.Module.parameters`` excludes them."""
        if not isinstance(model, GraphModule):
            return sum(p.numel() for p in model.parameters())
        weights = [b for b in model.buffers() if b.dtype == torch.int8]
        return sum(t.numel() for t in [*model.parameters(), *weights])


QUANTIZATION_BACKENDS.register(Pt2eBackend.name, Pt2eBackend())
