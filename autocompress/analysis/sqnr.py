"""Per-layer sensitivity to int8: SQNR of every layer's output in a fully static-quantized model
against the same layer in float, as the case study used to choose which layers to quantize.

Both models run end to end on the same clips, so a layer's SQNR includes the error that reaches
it from earlier layers (what the deployed model would see). Which layers quantize, the float
reference and how a layer's output is read belong to the quantization backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from autocompress.compression.layers import quantizable_layers
from autocompress.compression.quantization import quantization_backend
from autocompress.inputs import Inputs, as_inputs, split

__all__ = ["LayerSQNR", "layer_sqnr", "layers_above"]


@dataclass(frozen=True)
class LayerSQNR:
    name: str
    sqnr_db: float  # 10 log10(signal energy / quantization noise energy)
    quantized_type: str


@torch.no_grad()
def layer_sqnr(
    model: nn.Module,
    calibration: torch.Tensor | Inputs,
    layers: list[str] | None = None,
    backend: str = "fx",
) -> list[LayerSQNR]:
    """SQNR (dB) of each of ``layers`` (default: all the backend quantizes), highest first."""
    quantizer = quantization_backend(backend)
    calibration = as_inputs(calibration, "calibration")
    if layers is None:
        candidates = quantizable_layers(model)
        layers = [n for n in candidates if quantizer.can_quantize(model.get_submodule(n))]
    reference, quantized = quantizer.reference_and_quantized(model, layers, calibration)
    kinds = {layer.name: layer for layer in quantizer.quantized_layers(quantized, layers)}
    names = [name for name in layers if kinds[name].quantized]
    signal = dict.fromkeys(names, 0.0)
    noise = dict.fromkeys(names, 0.0)
    for sample in split(calibration):
        expected = quantizer.layer_outputs(reference, names, sample)
        approximate = quantizer.layer_outputs(quantized, names, sample)
        for name in names:
            signal[name] += expected[name].double().square().sum().item()
            noise[name] += (expected[name] - approximate[name]).double().square().sum().item()
    results = [
        LayerSQNR(
            name,
            10 * math.log10(signal[name] / noise[name]) if noise[name] > 0 else math.inf,
            kinds[name].module_type,
        )
        for name in names
    ]
    return sorted(results, key=lambda r: r.sqnr_db, reverse=True)


def layers_above(results: list[LayerSQNR], min_db: float) -> list[str]:
    """The SQNR-guided selection: layers whose output keeps at least ``min_db``."""
    return [r.name for r in results if r.sqnr_db >= min_db]
