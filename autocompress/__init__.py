"""autocompress: search how to compress a PyTorch model for a latency budget.

The package imports nothing heavy by itself (the command line starts fast); the public names
below load their modules on first use.
"""

from typing import Any

__all__ = ["load_artifact"]


def __getattr__(name: str) -> Any:
    if name == "load_artifact":
        from autocompress.backends import load_artifact

        return load_artifact
    raise AttributeError(f"module 'autocompress' has no attribute {name!r}")
