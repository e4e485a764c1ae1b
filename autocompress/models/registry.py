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
    test_task: str | None = None  # the same, scoring its held-out items
    # A model imported by path that is a plain nn.Module: its example inputs' shapes and types
    # ("1,16;1,16", "int64;int64"; autocompress.models.imported.example_inputs).
    input_shape: str | None = None
    input_type: str | None = None
    data_path: str | None = None  # the study's evaluation data; None: generated
    synthetic_items: int | None = None
    synthetic_seed: int = 0
    # The held-out test set (ModelAdapter.test_task): generated items and their seed, or the
    # share of a folder's items (autocompress.data.split); None: no test set of that kind.
    test_items: int | None = None
    test_seed: int = 2000
    test_share: float | None = None
    subset: int | None = None
    counting: str = "default"
    device: str = "cpu"  # where the task evaluates


FAMILIES: Registry[Callable[[ModelSettings], ModelAdapter]] = Registry("preset")


def adapter_for(settings: ModelSettings) -> ModelAdapter:
    """The adapter of ``settings.preset``, set up as the study says: a shipped model, or one
    imported from ``package.module:factory``."""
    if ":" in settings.preset:
        from autocompress.models.imported import imported_adapter

        return imported_adapter(
            settings.preset,
            settings.task,
            settings.input_shape,
            settings.input_type,
            settings.test_task,
        )
    for key, value in (("task", settings.task), ("test_task", settings.test_task)):
        if value is not None:
            raise UserError(f"{key}: preset {settings.preset!r} brings its own; leave {key} out")
    if settings.input_shape is not None or settings.input_type is not None:
        raise UserError(
            f"input_shape: preset {settings.preset!r} brings its own inputs; leave it out"
        )
    if settings.preset == ModuleAdapter.name:
        raise UserError(
            "this study searched a model given from Python (autocompress.search): rebuild or "
            "export it there, with autocompress.export"
        )
    return FAMILIES[settings.preset](settings)
