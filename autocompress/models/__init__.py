"""The models autocompress ships, as adapters, and the contract any model's adapter keeps.

Importing this package registers the shipped models' compression structure (prune groups,
custom pruners, distillation), so a RepNet is pruned by its stages wherever it comes from.
"""

from autocompress._exports import lazy_exports
from autocompress.models import repnet_structure  # noqa: F401  registers RepNet's structure

_HOMES = {
    "FunctionTask": "autocompress.models.adapter",
    "ModelAdapter": "autocompress.models.adapter",
    "ModuleAdapter": "autocompress.models.adapter",
    "Task": "autocompress.models.adapter",
    "TaskReport": "autocompress.models.adapter",
    "adapter_for": "autocompress.models.registry",
    "evaluate_task": "autocompress.models.adapter",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
