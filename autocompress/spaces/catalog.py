"""What a model offers each technique, and pipelines written in a space's own terms."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from autocompress.compression import (
    decomposable_layers,
    prunable_groups,
    quantizable_layers,
    techniques,
)
from autocompress.compression.quantization import quantization_backend
from autocompress.compression.tensorize import CpLayer, cp_layer, factor_names
from autocompress.inputs import Inputs, as_inputs
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.dry_run import LeftOut

__all__ = ["LayerCatalog", "PipelinePoint"]


@dataclass(frozen=True)
class LayerCatalog:
    """What the uncompressed model offers each technique; computed once per study."""

    prune_groups: tuple[str, ...]  # in the model's order, input side first
    decomposable: tuple[str, ...]
    quantizable: tuple[str, ...]
    sqnr_db: dict[str, float]  # per quantizable layer, from a fully quantized copy
    factors: dict[tuple[str, str], tuple[str, ...]]  # (layer, method) -> names after factoring
    quantize_backend: str = "fx"  # decides which layers are quantizable
    largest_first: tuple[str, ...] = ()  # decomposable layers by parameter count, descending
    # Technique kind -> what the model offers it, for techniques that say (Technique.offers)
    offers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    left_out: tuple[LeftOut, ...] = ()  # what a dry run found cannot take its step (dry_run)
    # Layers CP's time cap applies to, as its estimate sees them (compression.tensorize.limits)
    cp_layers: dict[str, CpLayer] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        model: nn.Module,
        space: SpaceConfig,
        sqnr_db: dict[str, float],
        quantize_backend: str = "fx",
        calibration: torch.Tensor | Inputs | None = None,
    ) -> LayerCatalog:
        def narrowed(available: list[str], wanted: tuple[str, ...] | None, what: str):
            if wanted is None:
                return tuple(available)
            unknown = [name for name in wanted if name not in available]
            if unknown:
                raise ValueError(f"space.{what}: {unknown[0]!r} is not one of {available}")
            return wanted

        inputs = None if calibration is None else as_inputs(calibration, "calibration")
        decomposable = narrowed(
            decomposable_layers(model), space.tensorize_layers, "tensorize_layers"
        )
        factors = {
            (layer, method): tuple(factor_names(layer, model.get_submodule(layer), method))
            for layer in decomposable
            for method in space.tensorize_methods
        }
        cp_layers = {
            layer: cp_layer(model.get_submodule(layer), space.allow_vbmf)
            for layer, method in factors
            if method == "cp"
        }
        sizes = {
            name: sum(p.numel() for p in model.get_submodule(name).parameters())
            for name in decomposable
        }
        return cls(
            prune_groups=narrowed(list(prunable_groups(model)), space.prune_groups, "prune_groups"),
            decomposable=decomposable,
            quantizable=tuple(
                name
                for name in quantizable_layers(model)
                if quantization_backend(quantize_backend).can_quantize(model.get_submodule(name))
            ),
            sqnr_db=sqnr_db,
            factors=factors,
            quantize_backend=quantize_backend,
            largest_first=tuple(sorted(decomposable, key=lambda name: -sizes[name])),
            cp_layers={name: layer for name, layer in cp_layers.items() if layer is not None},
            offers={
                technique.kind: technique.offers(model, inputs)
                for technique in techniques()
                if technique.offers is not None
                and any(technique.letter in order for order in space.orders)
            },
        )

    def without(self, left_out: tuple[LeftOut, ...]) -> LayerCatalog:
        """This catalog less what cannot take its step: a group it cannot prune, a method it
        cannot factorise a layer with (a layer with no method left is not decomposable), a
        layer int8 fails on."""
        gone = {(item.step, item.name) for item in left_out}
        factors = {key: names for key, names in self.factors.items() if key[::-1] not in gone}
        decomposable = {layer for layer, _ in factors}
        return replace(
            self,
            prune_groups=tuple(g for g in self.prune_groups if ("prune", g) not in gone),
            decomposable=tuple(n for n in self.decomposable if n in decomposable),
            quantizable=tuple(n for n in self.quantizable if ("quantize", n) not in gone),
            factors=factors,
            largest_first=tuple(n for n in self.largest_first if n in decomposable),
            left_out=self.left_out + tuple(left_out),
        )


@dataclass(frozen=True)
class PipelinePoint:
    """A pipeline written in the space's terms, to enqueue as a trial (``params_of``): ratios
    per prune group (absent: the lower bound), ranks per decomposable layer (a fraction or
    ``vbmf``; absent: skipped) and the SQNR threshold of quantization. Each technique of the
    order writes its part as trial parameters (``Technique.point_params``)."""

    order: str
    prune: dict[str, float] | None = None
    ranks: dict[str, float | str] | None = None
    method: str = "tucker"
    sqnr_threshold_db: float = 30.0
