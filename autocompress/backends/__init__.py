"""How a compressed model ships and runs: artifact formats (frozen TorchScript, torch.export
programs), each serialized, loaded and prepared as its runtime does."""

from autocompress.backends.artifacts import (
    ARTIFACT_FORMATS,
    ArtifactFormat,
    artifact_format,
    load_artifact,
)

__all__ = ["ARTIFACT_FORMATS", "ArtifactFormat", "artifact_format", "load_artifact"]
