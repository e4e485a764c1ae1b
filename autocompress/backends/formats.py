"""Artifact formats behind one small interface: how a compressed model is written, how a
deployment loads and prepares it, and so how its latency and size are measured.

Each format serializes a model to bytes (the model size is their length), loads bytes back
ready to run, prepared as its runtime would prepare them (the evaluator times exactly that),
and tells its own files. A format is one module that registers itself in
:data:`ARTIFACT_FORMATS`; this package's ``__init__`` imports the shipped ones. A study picks
its format (``artifact:``); ``export`` writes every format that takes the model.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from autocompress.errors import UserError
from autocompress.inputs import Inputs
from autocompress.registry import Registry

__all__ = ["ARTIFACT_FORMATS", "ArtifactFormat", "zip_entries"]


class ArtifactFormat(Protocol):
    name: str
    suffix: str  # of the exported file
    settle_runs: int  # warm-up runs its runtime needs before times settle

    def serialize(self, model: nn.Module, example: torch.Tensor | Inputs) -> bytes:
        """The file's bytes for ``model``, traced or exported on ``example`` if it must be."""
        ...

    def load(self, data: bytes) -> Any:
        """A callable ready to run, prepared as the format's runtime prepares it."""
        ...

    def recognizes(self, path: Path) -> bool:
        """Whether the file at ``path`` (an existing file) is this format's artifact."""
        ...


ARTIFACT_FORMATS: Registry[ArtifactFormat] = Registry("artifact format")


def zip_entries(path: Path) -> list[str]:
    """The entries of a zip archive (``.pt2`` files are), or a :class:`UserError`."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UserError(f"{path}: not a {path.suffix} archive ({error})") from error
