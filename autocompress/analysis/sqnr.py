"""Per-layer sensitivity to int8: SQNR of every layer's output in a fully static-quantized model
against the same layer in float, as the case study used to choose which layers to quantize.

Both models run end to end on the same clips, so a layer's SQNR includes the error that reaches
it from earlier layers (what the deployed model would see). The float reference is FX's prepared
model: it holds the fused float layers (conv+bn+relu) under the names the int8 ones get.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from autocompress.compression.layers import quantizable_layers
from autocompress.compression.quantize import quantized_engine, static_quantize

__all__ = ["LayerSQNR", "layer_sqnr", "layers_above"]


@dataclass(frozen=True)
class LayerSQNR:
    name: str
    sqnr_db: float  # 10 log10(signal energy / quantization noise energy)
    quantized_type: str


def _capture(model: nn.Module, names: Iterable[str], clip: torch.Tensor) -> dict[str, torch.Tensor]:
    outputs: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    handles = []
    for name in names:

        def hook(_module, _inputs, output, name=name):
            outputs[name] = output.dequantize() if output.is_quantized else output.detach()

        handles.append(modules[name].register_forward_hook(hook))
    try:
        model(clip)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


@torch.no_grad()
def layer_sqnr(
    model: nn.Module, calibration: torch.Tensor, layers: list[str] | None = None
) -> list[LayerSQNR]:
    """SQNR (dB) of each of ``layers`` (default: all quantizable), highest first."""
    layers = layers or quantizable_layers(model)
    prepared, quantized = static_quantize(model, layers, calibration)
    quantized_modules = dict(quantized.named_modules())
    names = [name for name in layers if name in quantized_modules]
    signal = dict.fromkeys(names, 0.0)
    noise = dict.fromkeys(names, 0.0)
    with quantized_engine():
        for clip in calibration.split(1):
            reference = _capture(prepared, names, clip)
            approximate = _capture(quantized, names, clip)
            for name in names:
                signal[name] += reference[name].double().square().sum().item()
                noise[name] += (reference[name] - approximate[name]).double().square().sum().item()
    results = [
        LayerSQNR(
            name,
            10 * math.log10(signal[name] / noise[name]) if noise[name] > 0 else math.inf,
            type(quantized_modules[name]).__name__,
        )
        for name in names
    ]
    return sorted(results, key=lambda r: r.sqnr_db, reverse=True)


def layers_above(results: list[LayerSQNR], min_db: float) -> list[str]:
    """The SQNR-guided selection: layers whose output keeps at least ``min_db``."""
    return [r.name for r in results if r.sqnr_db >= min_db]
