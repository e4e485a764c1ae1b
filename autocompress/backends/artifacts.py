"""Loading an exported file as the evaluator timed it, whatever its format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autocompress.backends.formats import ARTIFACT_FORMATS, ArtifactFormat
from autocompress.errors import UserError, first_line

__all__ = ["load_artifact"]


def load_artifact(path: str | Path) -> Any:
    """An exported file, loaded and prepared exactly as the evaluator timed it; its format is
    the registered one that recognizes it (``.pt`` TorchScript; ``.pt2`` a torch.export
    program or, when it holds a compiled library, an AOTInductor package)."""
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
        raise UserError(f"{path}: cannot load it as {fmt.name}: {first_line(error)}") from error


def _format_of(path: Path) -> ArtifactFormat:
    fmt = next((f for f in ARTIFACT_FORMATS.values() if f.recognizes(path)), None)
    if fmt is None:
        raise UserError(f"{path}: no registered artifact format recognizes it")
    return fmt
