"""What compression must be told about a model that its modules do not say.

Channel pruning needs to know which layers prune together (a residual stage shares one width)
and how to cross modules the dependency graph cannot read (torch-pruning's custom pruners);
recovery needs data and a loss to distil the teacher with. A model family registers its
:class:`ModelStructure` for its class (``register_structure``), once, where the class is
defined or adapted; every step then finds it by the model's type. Any other model gets the
generic structure: one prune group per Conv/Linear layer but the last (the task's output).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from torch import nn

from autocompress.compression.layers import per_layer_groups

__all__ = ["ModelStructure", "prunable_groups", "register_structure", "structure_of"]

PruneGroups = Callable[[nn.Module], dict[str, list[str]]]


def no_blocks(model: nn.Module) -> list[str]:
    return []


def no_input_shape(model: nn.Module) -> tuple[int, ...] | None:
    return None


@dataclass(frozen=True)
class ModelStructure:
    # Group name -> the layers whose output channels one ratio applies to.
    prune_groups: PruneGroups = per_layer_groups
    # Module type -> a ``torch_pruning.pruner.BasePruningFunc`` for it (see torch-pruning).
    custom_pruners: Mapping[type, Any] = field(default_factory=lambda: MappingProxyType({}))
    # How recovery distils this model; None: its outputs matched on the calibration inputs.
    # A finetune Distillation (autocompress.compression.finetune.distillation), which reads
    # this structure: typed loosely so the two modules do not import each other.
    distillation: Any = None
    # Residual blocks that compute input + branch(input), same shape: depth pruning may
    # replace them by the identity (autocompress.compression.depth).
    removable_blocks: Callable[[nn.Module], list[str]] = no_blocks
    # One sample's input shape (no batch dimension), if the model declares it: steps trace
    # such a model without calibration data.
    input_shape: Callable[[nn.Module], tuple[int, ...] | None] = no_input_shape


_STRUCTURES: dict[type, ModelStructure] = {}


def register_structure(model_type: type, structure: ModelStructure) -> None:
    """Make every step treat models of ``model_type`` (and its subclasses) by ``structure``."""
    _STRUCTURES[model_type] = structure


def structure_of(model: nn.Module) -> ModelStructure:
    """The structure registered for ``model``'s class or its nearest base, else the generic."""
    for cls in type(model).__mro__:
        if cls in _STRUCTURES:
            return _STRUCTURES[cls]
    return ModelStructure()


def prunable_groups(model: nn.Module) -> dict[str, list[str]]:
    """Group name -> the layers whose output channels a :class:`PruneStep` ratio applies to."""
    return structure_of(model).prune_groups(model)
