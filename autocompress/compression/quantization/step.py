"""Quantization as data: which layers go int8, how and on which backend, and what a step
did."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from autocompress.compression.finetune.step import FinetuneStep
from autocompress.compression.quantization.backend import QUANTIZATION_BACKENDS
from autocompress.compression.steps import PipelineError

__all__ = ["QUANTIZE_MODES", "QuantizeStep"]

QUANTIZE_MODES = ("static", "dynamic")


@dataclass(frozen=True)
class QuantizeStep:
    """Post-training int8: ``static`` quantizes the named Conv/Linear layers with observers
    calibrated on data; ``dynamic`` quantizes Linear weights and activations on the fly.
    ``backend`` decides the graph (and so the artifact formats) the int8 model lives in: one of
    autocompress.compression.quantization's registered backends (fx, pt2e, dynamic).

    ``recovery`` (static int8 on a backend that ``trains``: fx) distils the model toward the
    uncompressed one through fake quantization before it is converted, so the int8 model keeps
    what a finetune before it won; its steps, data, learning rate and seed are a finetune
    step's. None (pipelines stored before it existed): post-training int8."""

    kind: ClassVar[str] = "quantize"

    layers: list[str]
    mode: str = "static"
    backend: str = "fx"
    recovery: FinetuneStep | None = None

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
        if self.recovery is not None:
            self._check_recovery()

    def _check_recovery(self) -> None:
        if not isinstance(self.recovery, FinetuneStep):
            raise PipelineError(f"quantize recovery must be a finetune step, got {self.recovery!r}")
        if self.mode != "static":
            raise PipelineError(
                "quantize recovery trains through static int8's fake quantization: "
                f"{self.mode} int8 has none"
            )
        if not _trains(self.backend):
            trains = [name for name in QUANTIZATION_BACKENDS if _trains(name)]
            raise PipelineError(
                f"the {self.backend} backend cannot recover through int8 (it has no "
                f"quantization-aware training); use {' or '.join(trains)}, or drop recovery"
            )

    @classmethod
    def from_fields(cls, fields: dict) -> QuantizeStep:
        """A step from a stored pipeline; its recovery is stored as a finetune step's fields."""
        fields = dict(fields)
        recovery = fields.get("recovery")
        if isinstance(recovery, dict):
            fields["recovery"] = FinetuneStep.from_fields(recovery)
        return cls(**fields)

    def to_fields(self) -> dict:
        """The stored form; without recovery, the one of pipelines stored before it existed
        (a study finds its earlier trials of the same pipeline by that form)."""
        fields = dataclasses.asdict(self)
        if self.recovery is None:
            del fields["recovery"]
        return fields

    def summary(self) -> str:
        recovery = f", {self.recovery.steps} steps through int8" if self.recovery else ""
        return f"int8 {len(self.layers)} layers{recovery}"


def _trains(backend: str) -> bool:
    """Whether ``backend`` recovers through int8 (a backend written before ``trains`` does not)."""
    return getattr(QUANTIZATION_BACKENDS[backend], "trains", False)
