"""The ``autocompress`` command; ``main`` is the console-script entry point."""

from autocompress.cli.app import main

__all__ = ["main"]
