"""What every technique's step shares: the error a pipeline refuses with, the shape of a step,
and the report of one applied step.

A step says *what* to do (which layers, how much) and lives in its technique's module with the
transform that says *how* (autocompress.compression.registry). Steps check their own values
when built, so a bad ratio or an unknown method is refused before any model is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from torch import nn

from autocompress.errors import UserError

__all__ = ["PipelineError", "Step", "StepReport"]


class PipelineError(UserError):
    """A step or pipeline that cannot work on this model, said before (or instead of) a crash."""


class Step(Protocol):
    """A frozen dataclass of one technique's settings; ``kind`` is its key in a pipeline."""

    kind: ClassVar[str]

    def summary(self) -> str: ...


@dataclass(frozen=True)
class StepReport:
    """Per-layer facts of one applied step, checked against the model after the step.

    ``model`` is the model after the step: the same object for in-place steps, a new one where
    the backend builds one (static quantization)."""

    step: Step
    layers: tuple[Any, ...]  # per-layer facts, each with a __str__ for the report
    params_before: int
    params_after: int
    seconds: float
    notes: tuple[str, ...] = ()
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def technique(self) -> str:
        return self.step.kind

    def __str__(self) -> str:
        lines = [
            f"{self.technique}: {len(self.layers)} layers, params {self.params_before:,} -> "
            f"{self.params_after:,} ({self.seconds:.1f} s)"
        ]
        lines += [f"  {layer}" for layer in self.layers]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)
