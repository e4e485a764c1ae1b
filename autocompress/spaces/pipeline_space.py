"""The search space, define-by-run: an Optuna trial in, a compression :class:`Pipeline` out.

A trial first picks which techniques to use and in which order (``order``, e.g. ``"PTQ"``:
one letter per registered technique), then only the parameters of the chosen steps: each
technique's space part (autocompress.compression.registry) samples its step in the study's
layout (``compact``: a few intensities with per-layer choices one step away; ``per_layer``:
every group and layer its own dimension).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna

from autocompress.compression import Pipeline
from autocompress.compression.registry import Technique, technique_lettered
from autocompress.spaces.catalog import LayerCatalog, PipelinePoint
from autocompress.spaces.config import SpaceConfig

__all__ = ["LayerCatalog", "PipelinePoint", "SpaceState", "params_of", "suggest_pipeline"]


@dataclass
class SpaceState:
    """Names as the steps sampled so far leave them: factorised layers under their factors'
    names, dropped blocks and everything in them gone."""

    factored: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def drop(self, blocks: list[str]) -> None:
        self.dropped.extend(blocks)

    def present(self, name: str) -> bool:
        return not any(name == block or name.startswith(block + ".") for block in self.dropped)


def _sampling(order: str, letter: str) -> Technique:
    technique = technique_lettered(letter)
    if technique is None or technique.suggest is None:
        raise ValueError(f"order {order!r}: no technique samples letter {letter!r}")
    return technique


def suggest_pipeline(trial: optuna.Trial, catalog: LayerCatalog, space: SpaceConfig) -> Pipeline:
    """Sample one pipeline: each letter of the order is a technique (the registry), which
    samples its step; steps that end up selecting nothing are left out."""
    order = trial.suggest_categorical("order", list(space.orders))
    state = SpaceState()
    steps = []
    for letter in order:
        step = _sampling(order, letter).suggest(trial, catalog, space, state)
        if step is not None:
            steps.append(step)
    return Pipeline(steps=steps)


def params_of(point: PipelinePoint, catalog: LayerCatalog, space: SpaceConfig) -> dict | None:
    """The trial parameters :func:`suggest_pipeline` turns into ``point``'s pipeline, clipped
    to the space's bounds; None when the space cannot express it (an order it leaves out, a
    technique that writes no points, a setting its space part refuses)."""
    if point.order not in space.orders:
        return None
    params: dict[str, object] = {"order": point.order}
    for letter in point.order:
        technique = technique_lettered(letter)
        writes = technique.point_params if technique is not None else None
        part = writes(point, catalog, space) if writes is not None else None
        if part is None:
            return None
        params.update(part)
    return params
