"""Compression techniques as data (torchao style): a step dataclass per technique, applied by
:func:`apply`; a :class:`Pipeline` is an ordered list of steps that round-trips through YAML.
Each technique is one module registered in :mod:`autocompress.compression.registry`."""

# The shipped techniques register themselves when imported (autocompress.compression.registry).
from autocompress.compression import depth, finetune, prune, quantization, tensorize  # noqa: F401
from autocompress.compression.finetune.step import FinetuneStep
from autocompress.compression.layers import decomposable_layers, quantizable_layers
from autocompress.compression.pipeline import Pipeline, StepInputs, apply, apply_pipeline
from autocompress.compression.prune.step import PrunedLayer, PruneStep
from autocompress.compression.quantization.backend import QuantizedLayer
from autocompress.compression.quantization.step import QuantizeStep
from autocompress.compression.registry import Technique, register, technique_of, techniques
from autocompress.compression.steps import PipelineError, StepReport
from autocompress.compression.structure import (
    ModelStructure,
    prunable_groups,
    register_structure,
    structure_of,
)
from autocompress.compression.tensorize.step import TensorizedLayer, TensorizeStep

__all__ = [
    "FinetuneStep",
    "ModelStructure",
    "Pipeline",
    "PipelineError",
    "PruneStep",
    "PrunedLayer",
    "QuantizeStep",
    "QuantizedLayer",
    "StepInputs",
    "StepReport",
    "Technique",
    "TensorizeStep",
    "TensorizedLayer",
    "apply",
    "apply_pipeline",
    "decomposable_layers",
    "prunable_groups",
    "quantizable_layers",
    "register",
    "register_structure",
    "structure_of",
    "technique_of",
    "techniques",
]
