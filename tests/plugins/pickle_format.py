"""An artifact format in one file: the eager module pickled whole (``torch.save``), loaded
back with ``torch.load``; the files end in ``.pkl``."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from autocompress.backends.formats import ARTIFACT_FORMATS


class PickledModule:
    name = "pickled-module"
    suffix = ".pkl"
    settle_runs = 1

    def serialize(self, model: nn.Module, example: torch.Tensor) -> bytes:
        buffer = io.BytesIO()
        torch.save(model.eval(), buffer)
        return buffer.getvalue()

    def load(self, data: bytes) -> nn.Module:
        return torch.load(io.BytesIO(data), weights_only=False).eval()

    def recognizes(self, path: Path) -> bool:
        return path.suffix == self.suffix


ARTIFACT_FORMATS.register(PickledModule.name, PickledModule())
