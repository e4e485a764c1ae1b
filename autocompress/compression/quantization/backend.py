"""The interface every int8 backend implements, and the registry of backends by name.

A backend is one module of this package that registers itself here (``fx.py``, ``pt2e.py``,
``dynamic.py``); the package's ``__init__`` imports the shipped ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from autocompress.compression.steps import PipelineError
from autocompress.inputs import Inputs
from autocompress.registry import Registry

__all__ = ["QUANTIZATION_BACKENDS", "QuantizationBackend", "QuantizedLayer", "quantization_backend"]


@dataclass(frozen=True)
class QuantizedLayer:
    name: str
    quantized: bool
    module_type: str  # what the layer is after the step

    def __str__(self) -> str:
        state = "int8" if self.quantized else "FLOAT (not quantized)"
        return f"{self.name:<48} {state:<22} {self.module_type}"


class QuantizationBackend(Protocol):
    name: str
    modes: tuple[str, ...]  # the QuantizeStep modes it runs; a search samples the first
    exports: bool  # whether its int8 models export (.pt2 formats); else TorchScript only
    trains: bool  # whether it has ``quantize_trained`` (recovery through fake quantization)

    def why_not(self, model: nn.Module, example: Inputs) -> str | None:
        """Why this backend cannot quantize ``model`` at all (one line), or None: what its
        steps need of the whole model (a trace, an export), tried on a one-sample example."""
        ...

    def can_quantize(self, module: nn.Module) -> bool:
        """Whether this backend has int8 kernels for a layer of this type."""
        ...

    def quantize(
        self, model: nn.Module, layers: list[str], mode: str, calibration: Inputs | None
    ) -> nn.Module: ...

    def quantize_trained(
        self,
        model: nn.Module,
        layers: list[str],
        calibration: Inputs,
        train: Callable[[nn.Module], None],
    ) -> nn.Module:
        """Static int8 of ``model`` trained through fake quantization first: ``train`` trains
        the prepared float model in place. Only where ``trains``."""
        ...

    def reference_and_quantized(
        self, model: nn.Module, layers: list[str], calibration: Inputs
    ) -> tuple[nn.Module, nn.Module]:
        """A float model and the static int8 one, whose layer outputs compare one to one."""
        ...

    def layer_outputs(
        self, model: nn.Module, layers: list[str], sample: Inputs
    ) -> dict[str, torch.Tensor]:
        """Float outputs of the named layers on one run of ``model``."""
        ...

    def quantized_layers(self, model: nn.Module, layers: list[str]) -> tuple[QuantizedLayer, ...]:
        """Which of the named layers really run in int8 in ``model``."""
        ...

    def parameters(self, model: nn.Module) -> int:
        """Float parameters plus int8 weights (which are not ``nn.Parameter``)."""
        ...


QUANTIZATION_BACKENDS: Registry[QuantizationBackend] = Registry("quantize backend")


def quantization_backend(name: str) -> QuantizationBackend:
    if name not in QUANTIZATION_BACKENDS:
        raise PipelineError(
            f"unknown quantize backend {name!r}; choose one of {', '.join(QUANTIZATION_BACKENDS)}"
        )
    return QUANTIZATION_BACKENDS[name]
