"""Model size as deployed: the bytes of the serialized TorchScript artifact, in MiB.

MiB (2**20 bytes) throughout, as the case study's "MB" is (25.67 M float32 parameters = 97.9).
Counting parameters would miss int8 packing, quantization parameters and graph overhead.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

__all__ = ["MIB", "artifact_size_mib", "save_artifact", "script_artifact", "serialize"]

MIB = 2**20


@torch.no_grad()
def script_artifact(model: nn.Module, example_input: torch.Tensor) -> torch.jit.ScriptModule:
    """``torch.jit.script`` of the eval-mode model, run once on ``example_input`` so that no size
    is ever reported for an artifact that cannot run."""
    scripted = torch.jit.script(model.eval())
    scripted(example_input)
    return scripted


def serialize(scripted: torch.jit.ScriptModule) -> bytes:
    """The artifact as written to disk; its length is the model size."""
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


def artifact_size_mib(model: nn.Module, example_input: torch.Tensor) -> float:
    return len(serialize(script_artifact(model, example_input))) / MIB


def save_artifact(model: nn.Module, example_input: torch.Tensor, path: str | Path) -> float:
    """Write the deployable artifact to ``path``; returns its size in MiB."""
    data = serialize(script_artifact(model, example_input))
    Path(path).write_bytes(data)
    return len(data) / MIB
