"""AOTInductor packages (``.pt2``): the ``torch.export`` program compiled ahead of time into a
shared library for this CPU, loaded by ``torch._inductor.aoti_load_package`` (or the C++
``AOTIModelPackageLoader``) with no Python model code.

Compiled with Inductor's freezing on: weights become constants, so conv-bn pairs fold, weights
are prepacked for oneDNN, and PT2E's quantize/dequantize pairs fuse into int8 kernels (without
it an int8 graph runs float kernels between the pairs). Compiling repnet-s takes 15-35 s: a
study that picks this format pays it every trial.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autocompress.backends.formats import ARTIFACT_FORMATS, zip_entries
from autocompress.inputs import Inputs, as_inputs

__all__ = ["AOTInductor", "is_aoti_package"]

_PACKAGE_MARK = "/data/aotinductor/"  # where a package keeps its compiled library


def is_aoti_package(names: list[str]) -> bool:
    """Whether a ``.pt2`` zip with these entries is a compiled package (not a bare program)."""
    return any(_PACKAGE_MARK in name for name in names)


class AOTInductor:
    name = "aoti"
    suffix = ".pt2"
    settle_runs = 2  # the first run allocates; compiled code has no profiling phase

    @torch.no_grad()
    def serialize(self, model: nn.Module, example: torch.Tensor | Inputs) -> bytes:
        example = tuple(item.clone() for item in as_inputs(example))
        program = torch.export.export(model.eval(), example)
        with tempfile.TemporaryDirectory() as folder, torch._inductor.config.patch(freezing=True):
            path = torch._inductor.aoti_compile_and_package(
                program, package_path=str(Path(folder) / "model.pt2")
            )
            return Path(path).read_bytes()

    def load(self, data: bytes) -> Any:
        # The loader extracts the library it needs; the file itself can go afterwards.
        with tempfile.NamedTemporaryFile(suffix=self.suffix) as file:
            file.write(data)
            file.flush()
            return torch._inductor.aoti_load_package(file.name)

    def recognizes(self, path: Path) -> bool:
        return path.suffix == self.suffix and is_aoti_package(zip_entries(path))


ARTIFACT_FORMATS.register(AOTInductor.name, AOTInductor())
