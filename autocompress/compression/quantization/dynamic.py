"""Dynamic int8 of Linear layers: the backend that needs no graph of the model, so it
quantizes models neither torch.fx nor torch.export can trace (data-dependent Python in
``forward``; Hugging Face models under FX).

It is torch.ao's dynamic mode (fx.py's, without FX): each selected Linear is swapped for one
with int8 weights that quantizes its input per call from the input's own range. No calibration,
no tracing, the module tree and its names unchanged, so the SQNR analysis hooks the same names
in the float and the int8 model. The swapped layers hold packed weights that ``torch.export``
refuses: the models ship as TorchScript only (scripted, or traced where scripting fails).
"""

from __future__ import annotations

import torch
from torch import nn

from autocompress.compression.quantization.backend import QUANTIZATION_BACKENDS
from autocompress.compression.quantization.fx import FxBackend, quantize_linear_dynamic
from autocompress.inputs import Inputs

__all__ = ["DynamicBackend"]


class DynamicBackend(FxBackend):
    """FX's layer outputs, int8 layer report and parameter count hold for the swapped
    modules as they are."""

    name = "dynamic"
    modes = ("dynamic",)
    trains = False  # dynamic int8 has no fake quantization to train through

    def can_quantize(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Linear)

    def why_not(self, model: nn.Module, example: Inputs) -> str | None:
        """Nothing to try: the swap needs no graph (whether the model has a Linear layer is
        the catalog's question)."""
        return None

    @torch.no_grad()
    def quantize(
        self, model: nn.Module, layers: list[str], mode: str, calibration: Inputs | None
    ) -> nn.Module:
        return quantize_linear_dynamic(model, layers)

    def reference_and_quantized(
        self, model: nn.Module, layers: list[str], calibration: Inputs
    ) -> tuple[nn.Module, nn.Module]:
        """The float model itself is the reference (the swap keeps every name); the SQNR is
        dynamic int8's own, inputs quantized from their range on each sample as deployed."""
        return model.eval(), quantize_linear_dynamic(model, layers)


QUANTIZATION_BACKENDS.register(DynamicBackend.name, DynamicBackend())
