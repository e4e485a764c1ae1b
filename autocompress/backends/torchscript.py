"""Frozen TorchScript: the format of PyTorch's mobile runtime and of ``torch.jit.load``.

A deployment loads the file and then prepares it for its CPU: ``torch.jit.freeze`` inlines
submodules and turns weights into constants, ``torch.jit.optimize_for_inference`` folds batch
norms into convolutions and prepacks weights for MKLDNN (1.13-1.45x faster on the full RepNet
than the file run as loaded). The prepared module cannot be saved again, so the file holds the
scripted model and :meth:`TorchScript.load` prepares it, exactly as timed.
"""

from __future__ import annotations

import io

import torch
from torch import nn

from autocompress.backends.fresh_process import run_in_fork

__all__ = ["TorchScript"]


@torch.no_grad()
def _script_and_save(model: nn.Module, example: torch.Tensor) -> bytes:
    scripted = torch.jit.script(model.eval())
    scripted(example)  # never report a size for an artifact that cannot run
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


class TorchScript:
    name = "torchscript"
    suffix = ".pt"
    # TorchScript's profiling executor specialises the graph over the first runs; times were
    # seen to settle after 6-8 of them.
    settle_runs = 8

    def serialize(self, model: nn.Module, example: torch.Tensor) -> bytes:
        """The file's bytes: the same for the same model in any process (see fresh_process)."""
        return run_in_fork(_script_and_save, model, example)

    def load(self, data: bytes) -> torch.jit.ScriptModule:
        module = torch.jit.load(io.BytesIO(data)).eval()
        return torch.jit.optimize_for_inference(torch.jit.freeze(module))
