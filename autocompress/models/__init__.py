"""The models autocompress ships, as adapters, and the contract any model's adapter keeps.

Importing this package registers the shipped models' compression structure (prune groups,
custom pruners, distillation), so a RepNet is pruned by its stages wherever it comes from.
"""

from importlib import import_module
from typing import Any

from autocompress.models import repnet_structure  # noqa: F401  registers RepNet's structure

__all__ = [
    "FunctionTask",
    "ModelAdapter",
    "ModuleAdapter",
    "Task",
    "TaskReport",
    "adapter_for",
    "evaluate_task",
]

_HOMES = {
    "FunctionTask": "autocompress.models.adapter",
    "ModelAdapter": "autocompress.models.adapter",
    "ModuleAdapter": "autocompress.models.adapter",
    "Task": "autocompress.models.adapter",
    "TaskReport": "autocompress.models.adapter",
    "adapter_for": "autocompress.models.registry",
    "evaluate_task": "autocompress.models.adapter",
}


def __getattr__(name: str) -> Any:
    """The public names, from the modules that define them, loaded on first use."""
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
