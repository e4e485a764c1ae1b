"""autocompress: search how to compress a PyTorch model for a latency budget.

    result = autocompress.search(model, example_inputs, evaluate=fn, objectives=["error"])
    print(autocompress.pareto(result))
    autocompress.export(result, "fastest", "out/")

The package imports nothing heavy by itself (the command line starts fast); the public names
below load their modules on first use.
"""

from importlib import import_module
from typing import Any

__all__ = ["SearchResult", "UserError", "export", "load_artifact", "pareto", "search"]

_HOMES = {
    "SearchResult": "autocompress.api",
    "UserError": "autocompress.errors",
    "export": "autocompress.api",
    "pareto": "autocompress.api",
    "search": "autocompress.api",
    "load_artifact": "autocompress.backends",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'autocompress' has no attribute {name!r}")
