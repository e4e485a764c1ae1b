"""How a compressed model ships and runs: artifact formats (frozen TorchScript, torch.export
programs, AOTInductor packages), each serialized, loaded and prepared as its runtime does, and
the latency runners that time them."""

# The shipped formats register themselves when imported (autocompress.backends.formats).
from autocompress.backends import aoti, exported_program, torchscript  # noqa: F401
from autocompress.backends.artifacts import load_artifact
from autocompress.backends.formats import ARTIFACT_FORMATS, ArtifactFormat

__all__ = ["ARTIFACT_FORMATS", "ArtifactFormat", "load_artifact"]
