"""Adapters by name: what a study's ``preset`` key (the CLI's ``--preset``) builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from autocompress.errors import UserError
from autocompress.models.adapter import ModelAdapter, ModuleAdapter

if TYPE_CHECKING:
    from autocompress.study.config import StudyConfig

__all__ = ["adapter_for", "adapter_names"]

AdapterFactory = Callable[["StudyConfig", Path], ModelAdapter]


def _repnet(config: StudyConfig, run_dir: Path) -> ModelAdapter:
    from autocompress.models.repnet_adapter import RepNetAdapter

    data = config.data
    return RepNetAdapter(
        preset=config.preset,
        weights=config.weights,
        run_dir=run_dir,
        videos=data.path,
        synthetic_videos=data.synthetic_videos,
        synthetic_seed=data.synthetic_seed,
        subset=data.subset,
        counting=config.counting,
        device=config.accuracy_device,
    )


def _digits(config: StudyConfig, run_dir: Path) -> ModelAdapter:
    from autocompress.models.digits_adapter import DigitsAdapter

    return DigitsAdapter(weights=config.weights, subset=config.data.subset)


def _factories() -> dict[str, AdapterFactory]:
    from autocompress.models.repnet import PRESETS

    return {**dict.fromkeys(PRESETS, _repnet), "digits": _digits}


def adapter_names() -> list[str]:
    return list(_factories())


def adapter_for(config: StudyConfig, run_dir: Path) -> ModelAdapter:
    """The adapter of ``config.preset``, set up as the study says: a shipped model, or one
    imported from ``package.module:factory``."""
    if ":" in config.preset:
        from autocompress.models.imported import imported_adapter

        return imported_adapter(config.preset, config.task)
    if config.task is not None:
        raise UserError(f"task: preset {config.preset!r} brings its own task; leave task out")
    factories = _factories()
    if config.preset == ModuleAdapter.name:
        raise UserError(
            f"study {config.name!r} searched a model given from Python "
            "(autocompress.search): rebuild or export it there, with autocompress.export"
        )
    if config.preset not in factories:
        raise UserError(f"unknown preset {config.preset!r}; choose one of: {', '.join(factories)}")
    return factories[config.preset](config, run_dir)
