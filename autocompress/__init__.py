"""autocompress: search how to compress a PyTorch model for a latency budget.

    result = autocompress.search(model, example_inputs, evaluate=fn, objectives=["error"])
    print(autocompress.pareto(result))
    autocompress.export(result, "fastest", "out/")

The package imports nothing heavy by itself (the command line starts fast); the public names
below load their modules on first use.
"""

from autocompress._exports import lazy_exports

_HOMES = {
    "SearchResult": "autocompress.api",
    "UserError": "autocompress.errors",
    "export": "autocompress.api",
    "pareto": "autocompress.api",
    "search": "autocompress.api",
    "load_artifact": "autocompress.backends",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
