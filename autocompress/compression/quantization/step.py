"""Quantization as data: which layers go int8, how and on which backend, and what a step
did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from autocompress.compression.quantization.backend import QUANTIZATION_BACKENDS
from autocompress.compression.steps import PipelineError

__all__ = ["QUANTIZE_MODES", "QuantizeStep"]

QUANTIZE_MODES = ("static", "dynamic")


@dataclass(frozen=True)
class QuantizeStep:
    """Post-training int8: ``static`` quantizes the named Conv/Linear layers with observers
    calibrated on data; ``dynamic`` quantizes Linear weights and activations on the fly.
    ``backend`` decides the graph (and so the artifact formats) the int8 model lives in: one of
    autocompress.compression.quantization's registered backends (fx, pt2e, dynamic)."""

    kind: ClassVar[str] = "quantize"

    layers: list[str]
    mode: str = "static"
    backend: str = "fx"

    def __post_init__(self) -> None:
        if not self.layers:
            raise PipelineError("quantize step names no layers")
        if self.mode not in QUANTIZE_MODES:
            raise PipelineError(
                f"unknown quantize mode {self.mode!r}; choose one of {', '.join(QUANTIZE_MODES)}"
            )
        if len(set(self.layers)) != len(self.layers):
            raise PipelineError("quantize step names a layer twice")
        if self.backend not in QUANTIZATION_BACKENDS:
            raise PipelineError(
                f"unknown quantize backend {self.backend!r}; choose one of "
                f"{', '.join(QUANTIZATION_BACKENDS)}"
            )

    def summary(self) -> str:
        return f"int8 {len(self.layers)} layers"
