"""Which int8 backend a study uses: the first of its candidates that can quantize the model.

A model torch.fx cannot trace (an ``assert`` or data-dependent Python in ``forward``, every
Hugging Face model) still exports, and one that does not export still has Linear layers that
dynamic int8 swaps without any graph; trying each candidate once on one sample, when the study
starts, costs a trace or an export instead of a traceback in the first int8 trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from autocompress.compression.layers import quantizable_layers
from autocompress.compression.quantization.backend import quantization_backend
from autocompress.inputs import Inputs

__all__ = ["BackendChoice", "choose_backend"]


@dataclass(frozen=True)
class BackendChoice:
    name: str | None  # None: no candidate can quantize the model
    candidates: tuple[str, ...]
    refusals: tuple[tuple[str, str], ...]  # (backend, why not), for each candidate tried first
    model: str  # the model's class name, for the line

    @property
    def line(self) -> str:
        """Which backend int8 uses and why, in one line."""
        why_not = "; ".join(f"{name}: {why}" for name, why in self.refusals)
        if self.name is None:
            return (
                f"int8: none of {', '.join(self.candidates)} can quantize {self.model} "
                f"({why_not}); Q steps quantize nothing"
            )
        if self.refusals:
            return f"int8 on {self.name} ({why_not})"
        if len(self.candidates) == 1:
            return f"int8 on {self.name}"
        return f"int8 on {self.name}, the first of {', '.join(self.candidates)}"


def choose_backend(model: nn.Module, example: Inputs, candidates: Sequence[str]) -> BackendChoice:
    """The first of ``candidates`` that has a layer of ``model`` to quantize and whatever it
    needs of the whole model (``QuantizationBackend.why_not``, tried on ``example``)."""
    modules = [model.get_submodule(name) for name in quantizable_layers(model)]
    refusals = []
    for name in candidates:
        backend = quantization_backend(name)
        if not any(backend.can_quantize(module) for module in modules):
            kinds = sorted({type(module).__name__ for module in modules})
            why = f"it quantizes none of the model's layers ({'/'.join(kinds) or 'none'})"
        else:
            why = backend.why_not(model, example)
        if why is None:
            return BackendChoice(name, tuple(candidates), tuple(refusals), type(model).__name__)
        refusals.append((name, why))
    return BackendChoice(None, tuple(candidates), tuple(refusals), type(model).__name__)
