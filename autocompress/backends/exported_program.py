"""``torch.export`` programs (``.pt2``): PyTorch's graph format going forward, the input of
AOTInductor and ExecuTorch. Loaded back as a module and run eagerly, as ``torch.export.load``
gives it; FX-quantized (torch.ao) graphs cannot be exported."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from autocompress.backends.aoti import is_aoti_package
from autocompress.backends.formats import ARTIFACT_FORMATS, zip_entries
from autocompress.inputs import Inputs, as_inputs, repeated

__all__ = ["ExportedProgram", "export_program"]


def export_program(model: nn.Module, example: Inputs) -> torch.export.ExportedProgram:
    """``torch.export`` of ``model`` with a batch size that may vary where the model allows it
    (traced at batch 2: an example of batch 1 would specialise it; a dimension the model fixes
    stays fixed)."""
    pair = repeated(example, 2)
    dynamic_batch = tuple({0: torch.export.Dim.AUTO} for _ in pair)
    return torch.export.export(model, pair, dynamic_shapes=dynamic_batch)


class ExportedProgram:
    name = "exported-program"
    suffix = ".pt2"
    settle_runs = 1

    @torch.no_grad()
    def serialize(self, model: nn.Module, example: torch.Tensor | Inputs) -> bytes:
        """The program without the example input ``torch.export.save`` would store beside it
        (with the whole storage the example is a view of): the file holds the model only."""
        program = export_program(model.eval(), as_inputs(example))
        program.example_inputs = None
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        return buffer.getvalue()

    def load(self, data: bytes) -> nn.Module:
        return torch.export.load(io.BytesIO(data)).module()

    def recognizes(self, path: Path) -> bool:
        return path.suffix == self.suffix and not is_aoti_package(zip_entries(path))


ARTIFACT_FORMATS.register(ExportedProgram.name, ExportedProgram())
