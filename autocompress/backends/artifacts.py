"""Artifact formats behind one small interface: how a compressed model is written, how a
deployment loads and prepares it, and so how its latency and size are measured.

Each format serializes a model to bytes (the model size is their length) and loads bytes back
ready to run, prepared as its runtime would prepare them; the evaluator times exactly that.
A study picks its format (``artifact:``); ``export`` writes every format that takes the model.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from autocompress.backends.aoti import AOTInductor, is_aoti_package
from autocompress.backends.exported_program import ExportedProgram
from autocompress.backends.torchscript import TorchScript
from autocompress.errors import UserError

__all__ = ["ARTIFACT_FORMATS", "ArtifactFormat", "artifact_format", "load_artifact"]


class ArtifactFormat(Protocol):
    name: str
    suffix: str  # of the exported file
    settle_runs: int  # warm-up runs its runtime needs before times settle

    def serialize(self, model: nn.Module, example: torch.Tensor) -> bytes: ...

    def load(self, data: bytes) -> Any:
        """A callable ready to run, prepared as the format's runtime prepares it."""
        ...


ARTIFACT_FORMATS: dict[str, ArtifactFormat] = {
    fmt.name: fmt for fmt in (TorchScript(), ExportedProgram(), AOTInductor())
}


def artifact_format(name: str) -> ArtifactFormat:
    if name not in ARTIFACT_FORMATS:
        raise UserError(
            f"unknown artifact format {name!r}; choose one of: {', '.join(ARTIFACT_FORMATS)}"
        )
    return ARTIFACT_FORMATS[name]


def load_artifact(path: str | Path) -> Any:
    """An exported file, loaded and prepared exactly as the evaluator timed it; its format is
    told by its suffix (``.pt`` TorchScript; ``.pt2`` a torch.export program or, when it holds
    a compiled library, an AOTInductor package)."""
    path = Path(path)
    suffixes = sorted({fmt.suffix for fmt in ARTIFACT_FORMATS.values()})
    if path.suffix not in suffixes:
        raise UserError(f"{path}: not an artifact ({', '.join(suffixes)} files are)")
    if not path.is_file():
        raise UserError(f"artifact not found: {path}")
    fmt = _format_of(path)
    try:
        return fmt.load(path.read_bytes())
    except (RuntimeError, ValueError, OSError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"{path}: cannot load it as {fmt.name}: {first_line}") from error


def _format_of(path: Path) -> ArtifactFormat:
    if path.suffix == ".pt":
        return ARTIFACT_FORMATS["torchscript"]
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UserError(f"{path}: not a .pt2 archive ({error})") from error
    return ARTIFACT_FORMATS["aoti" if is_aoti_package(names) else "exported-program"]
