"""Per-layer sensitivity to int8: SQNR of every layer's output in a fully quantized model
against the same layer in float, as the case study used to choose which layers to quantize.

Both models run end to end on the same clips, so a layer's SQNR includes the error that reaches
it from earlier layers (what the deployed model would see). Which layers quantize, the float
reference and how a layer's output is read belong to the quantization backend: static int8
(fx, pt2e) with ranges observed on the clips; dynamic int8 (the ``dynamic`` backend, for
models no graph can be made of) measured as it runs, each input quantized from its own range,
so its ranking is the real output error too, not a weight-only estimate. The layers a backend
cannot quantize (Convs under dynamic int8, Conv1d/Conv3d under pt2e) have no SQNR; the ranking
says which it skipped.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

from autocompress.compression.layers import quantizable_layers
from autocompress.compression.quantization import QuantizationBackend, quantization_backend
from autocompress.inputs import Inputs, as_inputs, split

__all__ = ["LayerSQNR", "SQNRRanking", "layer_sqnr", "layers_above", "sqnr_ranking"]


@dataclass(frozen=True)
class LayerSQNR:
    name: str
    sqnr_db: float  # 10 log10(signal energy / quantization noise energy)
    quantized_type: str


@dataclass(frozen=True)
class SQNRRanking:
    """A model's ranking on one backend, and the quantizable layers it has no SQNR for."""

    backend: str
    results: list[LayerSQNR]
    skipped: dict[str, str]  # layer -> its type, as the backend left it float

    @property
    def line(self) -> str:
        """What was ranked and what was skipped, in one line."""
        count = len(self.results)
        said = f"SQNR ranking of {count} layer{'s' * (count != 1)}"
        if not self.skipped:
            return said
        kinds = Counter(self.skipped.values())
        left = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        return f"{said}, skipping {left} left float by {self.backend}"


def _backend_layers(model: nn.Module, quantizer: QuantizationBackend) -> list[str]:
    candidates = quantizable_layers(model)
    return [n for n in candidates if quantizer.can_quantize(model.get_submodule(n))]


@torch.no_grad()
def layer_sqnr(
    model: nn.Module,
    calibration: torch.Tensor | Inputs,
    layers: list[str] | None = None,
    backend: str = "fx",
) -> list[LayerSQNR]:
    """SQNR (dB) of each of ``layers`` (default: all the backend quantizes), highest first; a
    layer that stayed float has none."""
    quantizer = quantization_backend(backend)
    calibration = as_inputs(calibration, "calibration")
    if layers is None:
        layers = _backend_layers(model, quantizer)
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


def sqnr_ranking(
    model: nn.Module,
    calibration: torch.Tensor | Inputs,
    backend: str,
    layers: list[str] | None = None,
) -> SQNRRanking:
    """:func:`layer_sqnr` of ``layers`` (default: every layer ``backend`` quantizes), naming
    the quantizable layers left without an SQNR (no int8 kernel on this backend, left out, or
    left float by it)."""
    quantizer = quantization_backend(backend)
    if layers is None:
        layers = _backend_layers(model, quantizer)
    results = layer_sqnr(model, calibration, layers, backend) if layers else []
    ranked = {r.name for r in results}
    skipped = {
        name: type(model.get_submodule(name)).__name__
        for name in quantizable_layers(model)
        if name not in ranked
    }
    return SQNRRanking(backend, results, skipped)


def layers_above(results: list[LayerSQNR], min_db: float) -> list[str]:
    """The SQNR-guided selection: layers whose output keeps at least ``min_db``."""
    return [r.name for r in results if r.sqnr_db >= min_db]
