"""The models autocompress ships, as adapters, and the contract any model's adapter keeps.

Importing this package registers the shipped model families (their presets, and their
compression structure: prune groups, custom pruners, distillation), so a RepNet is pruned by its
stages wherever it comes from.
"""

from autocompress._exports import lazy_exports

# The shipped model families register their presets and compression structure on import.
from autocompress.models.digits import adapter as _digits  # noqa: F401
from autocompress.models.repnet import adapter as _repnet  # noqa: F401
from autocompress.models.repnet import structure as _repnet_structure  # noqa: F401

_HOMES = {
    "FunctionTask": "autocompress.evaluators.task",
    "ModelAdapter": "autocompress.models.adapter",
    "ModuleAdapter": "autocompress.models.adapter",
    "Task": "autocompress.evaluators.task",
    "TaskReport": "autocompress.evaluators.task",
    "adapter_for": "autocompress.models.registry",
    "evaluate_task": "autocompress.evaluators.task",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
