"""Model families by name: what a study's ``preset`` key (the CLI's ``--preset``) builds.

A family is one module that registers a factory for each of its preset names in
:data:`FAMILIES` (RepNet's: ``models/repnet/adapter.py``; the digits net's:
``models/digits/adapter.py``); this package's ``__init__`` imports the shipped ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autocompress.errors import UserError
from autocompress.models.adapter import ModelAdapter, ModuleAdapter
from autocompress.registry import Registry

__all__ = ["FAMILIES", "ModelSettings", "adapter_for"]


@dataclass(frozen=True)
class ModelSettings:
    """What a study says about its model, in this layer's terms (the study builds it)."""

    preset: str
    run_dir: Path
    weights: str | None = None
    task: str | None = None  # "package.module:object" for a model imported by path
    data_path: str | None = None  # the study's evaluation data; None: generated
    synthetic_items: int | None = None
    synthetic_seed: int = 0
    subset: int | None = None
    counting: str = "default"
    device: str = "cpu"  # where the task evaluates


FAMILIES: Registry[Callable[[ModelSettings], ModelAdapter]] = Registry("preset")


def adapter_for(settings: ModelSettings) -> ModelAdapter:
    """The adapter of ``settings.preset``, set up as the study says: a shipped model, or one
    imported from ``package.module:factory``."""
    if ":" in settings.preset:
        from autocompress.models.imported import imported_adapter

        return imported_adapter(settings.preset, settings.task)
    if settings.task is not None:
        raise UserError(f"task: preset {settings.preset!r} brings its own task; leave task out")
    if settings.preset == ModuleAdapter.name:
        raise UserError(
            "this study searched a model given from Python (autocompress.search): rebuild or "
            "export it there, with autocompress.export"
        )
    return FAMILIES[settings.preset](settings)
