"""Compression techniques as data (torchao style): a step dataclass per technique, applied by
:func:`apply`; a :class:`Pipeline` is an ordered list of steps that round-trips through YAML."""

from autocompress.compression.layers import decomposable_layers, quantizable_layers
from autocompress.compression.pipeline import (
    Pipeline,
    StepInputs,
    apply,
    apply_pipeline,
    register_transform,
)
from autocompress.compression.steps import (
    FinetuneStep,
    PipelineError,
    PrunedLayer,
    PruneStep,
    QuantizedLayer,
    QuantizeStep,
    StepReport,
    TensorizedLayer,
    TensorizeStep,
)
from autocompress.compression.structure import (
    ModelStructure,
    prunable_groups,
    register_structure,
    structure_of,
)

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
    "TensorizeStep",
    "TensorizedLayer",
    "apply",
    "apply_pipeline",
    "decomposable_layers",
    "prunable_groups",
    "quantizable_layers",
    "register_structure",
    "register_transform",
    "structure_of",
]
